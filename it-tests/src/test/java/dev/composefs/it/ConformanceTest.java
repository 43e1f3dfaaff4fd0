package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstream's own acceptance data, run through the launchers exactly as upstream's test script
 * does: each dump must give the recorded sha256, a dump of the image must rebuild the same
 * bytes, and every should-fail dump must be refused without leaving an image behind.
 */
class ConformanceTest {
    private static final List<String> LENIENT = List.of("no-newline.dump", "longlink.dump",
            "honggfuzz-longlink-unterminated.dump");

    @TempDir
    static Path tmp;

    @TestFactory
    Stream<DynamicTest> upstreamDigests() throws IOException {
        if (!Cli.hasAssets()) {
            return Stream.of(DynamicTest.dynamicTest("upstream's conformance assets", Cli::assets)); // skips, saying why
        }
        List<DynamicTest> tests = new ArrayList<>();
        try (var files = Files.list(Cli.assets())) {
            for (Path sha : files.filter(p -> p.toString().endsWith(".sha256")).sorted().toList()) {
                String name = sha.getFileName().toString().replaceFirst("\\.sha256$", "");
                Path dump = Cli.assets().resolve(name);
                if (!Files.exists(dump)) {
                    // upstream's snapshot has the digest but not the dump: nothing to reproduce
                    tests.add(DynamicTest.dynamicTest(name + " (skipped: dump not in the snapshot)", () ->
                            org.junit.jupiter.api.Assumptions.abort(name + ": .sha256 without its dump in " + Cli.assets())));
                    continue;
                }
                tests.add(DynamicTest.dynamicTest(name, () -> reproduce(name, dump, sha)));
            }
        }
        return tests.stream();
    }

    private void reproduce(String name, Path dump, Path sha) throws Exception {
        Path input = tmp.resolve(name + ".in");
        try (InputStream in = name.endsWith(".gz") ? new GZIPInputStream(Files.newInputStream(dump))
                : Files.newInputStream(dump)) {
            Files.write(input, in.readAllBytes());
        }
        String content = Files.readString(input, java.nio.charset.StandardCharsets.ISO_8859_1).strip();
        if (Files.size(input) < 100 && !content.contains(" ")) {
            input = Cli.assets().resolve(content); // special_v1.dump names the dump it shares
        }
        List<String> version = new ArrayList<>();
        Path v = Cli.assets().resolve(name + ".version");
        if (Files.exists(v)) {
            String n = Files.readString(v).strip();
            version = List.of("--min-version=" + n, "--max-version=" + n);
        }
        // upstream parses strictly when the variable is set at all, so a lenient case leaves it unset
        Map<String, String> env = LENIENT.contains(name) ? Map.of() : Map.of("CFS_PARSE_STRICT", "1");
        Path image = tmp.resolve(name + ".img");
        List<String> argv = new ArrayList<>(List.of("mkcomposefs"));
        argv.addAll(version);
        argv.addAll(List.of("--from-file", input.toString(), image.toString()));
        Cli.Result r = Cli.run(argv, null, env);
        assertEquals(0, r.exit(), r.stderr());
        String expected = Files.readString(sha).strip().split("\\s+")[0];
        assertEquals(expected, sha256(image), name + ": image differs from upstream mkcomposefs");

        Cli.Result dumped = Cli.run("composefs-info", "dump", image.toString());
        assertEquals(0, dumped.exit(), dumped.stderr());
        Path redump = tmp.resolve(name + ".redump");
        Files.write(redump, dumped.stdout());
        Path image2 = tmp.resolve(name + ".img2");
        List<String> again = new ArrayList<>(List.of("mkcomposefs"));
        again.addAll(version);
        again.addAll(List.of("--from-file", "-", image2.toString()));
        Cli.Result r2 = Cli.run(again, redump, env);
        assertEquals(0, r2.exit(), r2.stderr());
        assertArrayEquals(Files.readAllBytes(image), Files.readAllBytes(image2),
                name + ": composefs-info dump | mkcomposefs --from-file - gives different bytes");
    }

    @TestFactory
    Stream<DynamicTest> shouldFailDumpsAreRefused() throws IOException {
        if (!Cli.hasAssets()) {
            return Stream.of(DynamicTest.dynamicTest("upstream's should-fail dumps", Cli::assets)); // skips, saying why
        }
        try (var files = Files.list(Cli.assets())) {
            return files.filter(p -> p.getFileName().toString().startsWith("should-fail-")).sorted().toList().stream()
                    .map(dump -> DynamicTest.dynamicTest(dump.getFileName().toString(), () -> {
                        Path image = tmp.resolve(dump.getFileName() + ".img");
                        Cli.Result r = Cli.run(List.of("mkcomposefs", "--from-file", dump.toString(),
                                image.toString()), null, Map.of("CFS_PARSE_STRICT", "1"));
                        assertEquals(1, r.exit(), "exit code; stderr: " + r.stderr());
                        assertTrue(r.stderr().startsWith("mkcomposefs: " + dump), "message names the file: "
                                + r.stderr());
                        assertTrue(r.stderr().length() > ("mkcomposefs: " + dump).length() + 10,
                                "and says what is wrong: " + r.stderr());
                        assertFalse(Files.exists(image), "no image left behind");
                        try (var left = Files.list(tmp)) {
                            assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".tmp")),
                                    "no temporary file left behind");
                        }
                    }));
        }
    }

    static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }
}
