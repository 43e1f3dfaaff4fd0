package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Nothing half-written: the target is the old file or the whole new one, and no temporary name stays. */
class AtomicFileTest {
    @TempDir
    Path tmp;

    private void assertNoTemporaryFiles() throws IOException {
        try (var files = Files.list(tmp)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().contains(".tmp")), "a temporary file was left");
        }
    }

    @Test
    void replacesTheTargetWholeInPiecesLargerThanOneWrite() throws Exception {
        Path target = tmp.resolve("out");
        Files.writeString(target, "old");
        byte[] data = new byte[3 << 20]; // more than one chunk
        new Random(7).nextBytes(data);
        AtomicFile.write(target, data);
        assertArrayEquals(data, Files.readAllBytes(target));
        assertNoTemporaryFiles();
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryName() throws Exception {
        Path target = tmp.resolve("out");
        Files.writeString(target, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.write(target, out -> {
            out.write(new byte[100_000]);
            throw new IOException("the producer failed");
        }));
        assertEquals("the producer failed", e.getMessage());
        assertEquals("old", Files.readString(target));
        assertNoTemporaryFiles();
    }

    @Test
    void refusalsNameTheProblem() throws Exception {
        IOException empty = assertThrows(IOException.class, () -> AtomicFile.write(Path.of(""), new byte[1]));
        assertTrue(empty.getMessage().contains("empty path"), empty.getMessage());
        Path noDir = tmp.resolve("no/such/dir/out");
        IOException missing = assertThrows(IOException.class, () -> AtomicFile.write(noDir, new byte[1]));
        assertEquals(noDir.getParent() + ": ENOENT (No such file or directory)", missing.getMessage());
        Path dir = Files.createDirectory(tmp.resolve("a-directory"));
        Files.writeString(dir.resolve("inside"), "x");
        // the reason, for a caller that names its target ("IMAGE: cannot write image: ...")
        IOException onDir = assertThrows(IOException.class, () -> AtomicFile.write(dir, new byte[1]));
        assertEquals("Is a directory", onDir.getMessage());
        assertTrue(Files.isDirectory(dir), "the directory is left as it was");
        assertNoTemporaryFiles();
    }

    @Test
    void standardOutputAndStreamsAreWrittenAsTheyAre() throws Exception {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        AtomicFile.write("-", new byte[] {1, 2, 3}, stdout);
        assertArrayEquals(new byte[] {1, 2, 3}, stdout.toByteArray());
        assertTrue(AtomicFile.isStream("/proc/self/fd/1") && AtomicFile.isStream("/dev/null") && !AtomicFile.isStream("x"));
        AtomicFile.write("/dev/null", new byte[10], stdout); // written through, not renamed over
        assertFalse(Files.isRegularFile(Path.of("/dev/null")), "/dev/null is still the device");
    }
}
