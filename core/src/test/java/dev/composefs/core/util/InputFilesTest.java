package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inputs are opened without blocking, checked for their type on the fd, and read within a bound. */
class InputFilesTest {
    @TempDir
    Path tmp;

    @Test
    void readsARegularFileWholeWithinItsBound() throws Exception {
        byte[] data = new byte[200_000];
        data[199_999] = 9;
        Path f = Files.write(tmp.resolve("f"), data);
        assertArrayEquals(data, InputFiles.read(f, InputFiles.Kind.REGULAR, 200_000, "image"));
        IOException big = assertThrows(IOException.class, () -> InputFiles.read(f, 199_999, "image"));
        assertEquals(f + ": image too large (200000 bytes; at most 199999 bytes are read)", big.getMessage());
        assertArrayEquals(new byte[0], InputFiles.read(Files.write(tmp.resolve("empty"), new byte[0]), 10, "image"));
    }

    @Test
    void aFifoIsRefusedAtOnceWhereAFileBelongsAndReadWhereAPipeMayBe() throws Exception {
        Path fifo = tmp.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        // no writer: opening it blocking would hang; opened non-blocking, its type refuses it
        IOException e = assertThrows(IOException.class, () -> InputFiles.open(fifo, InputFiles.Kind.REGULAR, "image"));
        assertEquals(fifo + ": image is not a regular file (it is a FIFO)", e.getMessage());
        // a writer that writes more than one pipe buffer, then closes: read whole
        Process writer = new ProcessBuilder("sh", "-c", "head -c 300000 /dev/zero > \"$0\"", fifo.toString()).start();
        try {
            byte[] got = InputFiles.read(fifo, 1 << 20, "dump");
            assertEquals(300_000, got.length);
        } finally {
            writer.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void otherTypesAndMissingFilesAreNamed() {
        IOException dir = assertThrows(IOException.class, () -> InputFiles.read(tmp, 10, "image"));
        assertEquals(tmp + ": image is not a regular file (it is a directory)", dir.getMessage());
        IOException dev = assertThrows(IOException.class, () -> InputFiles.read(Path.of("/dev/null"), 10, "image"));
        assertEquals("/dev/null: image is not a regular file (it is a character device)", dev.getMessage());
        Path missing = tmp.resolve("missing");
        IOException none = assertThrows(IOException.class, () -> InputFiles.read(missing, 10, "image"));
        assertEquals(missing + ": cannot open image: ENOENT (No such file or directory)", none.getMessage());
    }

    @Test
    void aPipeLongerThanTheBoundIsCutOffWithAMessage() throws Exception {
        Path fifo = tmp.resolve("fifo2");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        Process writer = new ProcessBuilder("sh", "-c", "head -c 100000 /dev/zero > \"$0\" 2>/dev/null", fifo.toString()).start();
        try {
            IOException e = assertThrows(IOException.class, () -> InputFiles.read(fifo, 70_000, "dump"));
            assertEquals(fifo + ": dump too large (more than 70000 bytes; at most 70000 bytes are read)", e.getMessage());
        } finally {
            writer.destroy();
            writer.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
