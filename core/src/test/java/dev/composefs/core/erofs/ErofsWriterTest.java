package dev.composefs.core.erofs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.Assets;
import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.tree.Directory;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The writer in memory and streaming, against upstream's digests. (The CLI's conformance test
 * covers mkcomposefs end to end; this one pins the streaming window to the in-memory image.)
 */
class ErofsWriterTest {
    @Test
    void streamedImagesAreTheInMemoryImagesAndUpstreams() throws Exception {
        List<Path> digests;
        try (var files = Files.list(Assets.dir())) {
            digests = files.filter(f -> f.toString().endsWith(".sha256")).sorted().toList();
        }
        int checked = 0;
        for (Path sha : digests) {
            String name = sha.getFileName().toString().replaceFirst("\\.sha256$", "");
            if (!Files.exists(Assets.dir().resolve(name))) {
                continue; // upstream's digest without its dump (ConformanceTest reports these)
            }
            Path versionFile = Assets.dir().resolve(name + ".version");
            int v = Files.exists(versionFile) ? Integer.parseInt(Files.readString(versionFile).strip()) : -1;
            ErofsWriter.Options options = v < 0 ? ErofsWriter.Options.DEFAULT : new ErofsWriter.Options(v, v);
            Directory tree = DumpReader.parse(Assets.dump(name), false);

            ErofsWriter.Image whole = ErofsWriter.write(tree, options);
            String expected = Files.readString(sha).strip().split("\\s+")[0];
            assertEquals(expected, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(whole.bytes())),
                    name + ": differs from upstream mkcomposefs");

            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int version = ErofsWriter.write(tree, options, out);
            assertEquals(whole.version(), version, name);
            assertArrayEquals(whole.bytes(), out.toByteArray(), name + ": streamed image differs");
            checked++;
        }
        assertTrue(checked >= 10, "conformance dumps checked: " + checked);
    }
}
