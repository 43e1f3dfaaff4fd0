package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.cli.Main;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * `mkcomposefs --from-file - -` (podman's call) against upstream's 1.0.8 binary, Debian forky's
 * package in a Debian 13 root: thousands of generated dumps (DumpGenerator) through both, each
 * giving identical image bytes or refused by both; where upstream accepts input it then
 * mishandles, this project refuses (docs/containers.md lists those). Every refusal of ours is
 * one line, as podman shows it. The seed is fixed, so a run compares what the last one did;
 * -Dcomposefs.differential.seed=random draws a new one (printed), =N repeats that run, and
 * -Dcomposefs.differential.cases=N sets its size. Failing cases are kept under
 * it-tests/target/differential/.
 */
class UpstreamDifferentialTest {
    // CI compares the same cases each run; -Dcomposefs.differential.seed=random explores new ones
    private static final long FIXED_SEED = 20343308367854L;
    private static TrixieRoot trixie;

    @BeforeAll
    static void root() throws Exception {
        trixie = TrixieRoot.create();
    }

    @AfterAll
    static void remove() throws Exception {
        if (trixie != null) {
            trixie.close();
        }
    }

    private record Ours(int exit, byte[] image, String err) {}

    private static Ours ours(byte[] dump, boolean strict) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> args = new ArrayList<>(List.of("mkcomposefs", "--from-file", "-", "-"));
        if (strict) {
            args.add(1, "--strict"); // in-process: CFS_PARSE_STRICT can't be set; the launcher's use of it is checked below
        }
        int rc = Main.run(args.toArray(String[]::new),
                new Main.Io(new ByteArrayInputStream(dump), out, new PrintStream(err, true, StandardCharsets.UTF_8)));
        return new Ours(rc, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void generatedDumpsGiveUpstreamsBytesOrAreRefusedByBoth() throws Exception {
        String seedSetting = System.getProperty("composefs.differential.seed", String.valueOf(FIXED_SEED));
        long seed = seedSetting.equals("random") ? System.nanoTime() : Long.parseLong(seedSetting);
        int n = Integer.getInteger("composefs.differential.cases", 3000);
        System.out.println("differential: seed " + seed + ", " + n + " cases (-Dcomposefs.differential.seed="
                + seed + " repeats this run)");
        DumpGenerator gen = new DumpGenerator(seed);
        record Kept(String kind, boolean strict, DumpGenerator.Expect expect) {} // the dump itself stays on disk
        List<Kept> cases = new ArrayList<>();
        Path dir = trixie.root.resolve("cases");
        Files.createDirectories(dir);
        for (int i = 0; i < n; i++) {
            DumpGenerator.Case c = gen.next();
            cases.add(new Kept(c.kind(), c.strict(), c.expect()));
            Files.write(dir.resolve(i + ".dump"), c.dump());
            if (c.strict()) {
                Files.writeString(dir.resolve(i + ".strict"), "");
            }
        }
        // one shell in the root for all of upstream's runs: a chroot per case would double the time
        Cli.Result up = trixie.sh("""
                export LD_LIBRARY_PATH=/opt/upstream/usr/lib/x86_64-linux-gnu
                cd /cases && i=0 && while [ -e $i.dump ]; do
                    if [ -e $i.strict ]; then CFS_PARSE_STRICT=1 /opt/upstream/usr/bin/mkcomposefs --from-file - - <$i.dump >$i.img 2>$i.err
                    else /opt/upstream/usr/bin/mkcomposefs --from-file - - <$i.dump >$i.img 2>$i.err; fi
                    echo $? >$i.rc; i=$((i+1))
                done""");
        assertEquals(0, up.exit(), up.stderr());

        Map<String, int[]> byKind = new TreeMap<>(); // kind -> {cases, accepted by both, refused by both, deliberate}
        List<String> problems = new ArrayList<>();
        Path keep = Cli.repo().resolve("it-tests/target/differential");
        for (int i = 0; i < n; i++) {
            Kept c = cases.get(i);
            byte[] dump = Files.readAllBytes(dir.resolve(i + ".dump"));
            int upRc = Integer.parseInt(Files.readString(dir.resolve(i + ".rc")).trim());
            byte[] upImage = Files.readAllBytes(dir.resolve(i + ".img"));
            String upErr = Files.readString(dir.resolve(i + ".err"), StandardCharsets.ISO_8859_1).trim();
            Ours o = ours(dump, c.strict());
            int[] counts = byKind.computeIfAbsent(c.kind(), k -> new int[4]);
            counts[0]++;
            String problem = null;
            if (o.exit() != 0 && !o.err().matches("mkcomposefs: [^\n]+\n")) {
                problem = "our refusal is not one line starting 'mkcomposefs: ': " + o.err();
            } else if (c.expect() == DumpGenerator.Expect.WE_REFUSE) {
                if (o.exit() == 0) {
                    problem = "accepted by us, though a deliberate difference says we refuse it";
                }
                counts[3]++;
            } else if (o.exit() == 0 && upRc == 0) {
                if (!Arrays.equals(o.image(), upImage)) {
                    problem = "both accept it, but the images differ (" + o.image().length + " vs " + upImage.length + " bytes)";
                }
                counts[1]++;
            } else if (o.exit() != 0 && upRc != 0) {
                counts[2]++;
            } else {
                problem = o.exit() == 0 ? "accepted by us, refused by upstream: " + upErr
                        : "refused by us, accepted by upstream: " + o.err().trim();
            }
            if (problem != null) {
                problems.add("case " + i + " (" + c.kind() + (c.strict() ? ", strict" : "") + "): " + problem);
                Files.createDirectories(keep);
                Files.write(keep.resolve(i + (c.strict() ? ".strict" : "") + ".dump"), dump);
            }
        }
        byKind.forEach((k, v) -> System.out.printf("differential: %-45s %5d cases, %5d same bytes, %5d refused by both,"
                + " %4d deliberately refused%n", k, v[0], v[1], v[2], v[3]));
        assertTrue(problems.isEmpty(), problems.size() + " of " + n + " cases disagree (seed " + seed + ", kept in "
                + keep + "):\n" + String.join("\n", problems.subList(0, Math.min(20, problems.size()))));
        int same = byKind.values().stream().mapToInt(v -> v[1]).sum();
        assertTrue(same > n / 3, "too few accepted cases to compare bytes: " + same);
    }

    /** Upstream turns strict parsing on when CFS_PARSE_STRICT is set at all, "0" included: so does our launcher. */
    @Test
    void cfsParseStrictSetToZeroIsStrictAsUpstream() throws Exception {
        byte[] dump = "/ 4096 40755 2 0 0 0 0.0 - - -\n/l 5 120777 1 0 0 0 0.0 hello hello -\n"
                .getBytes(StandardCharsets.US_ASCII);
        Files.write(trixie.root.resolve("strict.dump"), dump);
        Cli.Result up = trixie.sh("CFS_PARSE_STRICT=0 upstream-mkcomposefs --from-file /strict.dump /strict.img");
        assertEquals(1, up.exit(), "upstream: " + up.stderr());
        Path f = Files.createTempFile("strict", ".dump");
        try {
            Files.write(f, dump);
            Cli.Result ours = Cli.run(List.of("mkcomposefs", "--from-file", f.toString(), "-"), null,
                    Map.of("CFS_PARSE_STRICT", "0"));
            assertEquals(1, ours.exit(), ours.stderr());
            assertTrue(ours.stderr().contains("has content"), ours.stderr());
            Cli.Result lenient = Cli.run(List.of("mkcomposefs", "--from-file", f.toString(), "-"), null, Map.of());
            assertEquals(0, lenient.exit(), lenient.stderr());
        } finally {
            Files.delete(f);
        }
    }

    /** A payload of 4095 bytes, the most there can be, is dumped whole; upstream's composefs-info adds two bytes. */
    @Test
    void aLongestPayloadIsDumpedWhole() throws Exception {
        String payload = "p".repeat(4095);
        Files.writeString(trixie.root.resolve("long.dump"), "/ 0 40755 2 0 0 0 0.0 - - -\n/a 10 100644 1 0 0 0 0.0 "
                + payload + " - -\n");
        Cli.Result up = trixie.sh("upstream-mkcomposefs --from-file /long.dump /long.cfs && upstream-composefs-info dump /long.cfs");
        assertEquals(0, up.exit(), up.stderr());
        String upField = up.out().lines().filter(l -> l.startsWith("/a ")).findFirst().orElseThrow().split(" ")[8];
        assertEquals(payload + "\\xff\\xff", upField, "upstream's dump of the longest payload (a documented difference)");
        Cli.Result ours = Cli.run("composefs-info", "dump", trixie.root.resolve("long.cfs").toString());
        assertEquals(0, ours.exit(), ours.stderr());
        assertEquals(payload, ours.out().lines().filter(l -> l.startsWith("/a ")).findFirst().orElseThrow().split(" ")[8]);
    }

    /** An empty dump (what podman sends for a layer whose ./ entry is not first): said so, as upstream does. */
    @Test
    void anEmptyDumpIsSaidToBeEmpty() throws Exception {
        Cli.Result up = trixie.sh("upstream-mkcomposefs --from-file - - </dev/null");
        assertEquals(1, up.exit());
        assertTrue(up.stderr().contains("No files in dump file"), up.stderr());
        Ours o = ours(new byte[0], false);
        assertEquals(1, o.exit());
        assertEquals("mkcomposefs: stdin: empty dump: no files in it\n", o.err());
    }
}
