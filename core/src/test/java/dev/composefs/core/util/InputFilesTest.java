package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.unistd_h;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
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
        Path fifo = fifo("fifo");
        // no writer: opening it blocking would hang; opened non-blocking, its type refuses it
        IOException e = assertThrows(IOException.class, () -> InputFiles.open(fifo, InputFiles.Kind.REGULAR, "image"));
        assertEquals(fifo + ": image is not a regular file (it is a FIFO)", e.getMessage());
        // more than one pipe buffer, then the writer closes: read whole
        assertEquals(300_000, readWhileWriting(fifo, 300_000, 1 << 20).length);
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
        Path fifo = fifo("fifo2");
        IOException e = assertThrows(IOException.class, () -> readWhileWriting(fifo, 100_000, 70_000));
        assertEquals(fifo + ": dump too large (more than 70000 bytes; at most 70000 bytes are read)", e.getMessage());
    }

    private Path fifo(String name) throws Exception {
        Path fifo = tmp.resolve(name);
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        return fifo;
    }

    /**
     * Opens fifo as InputFiles does, then reads it while a thread writes n bytes into it. The read
     * starts once the writer is connected: a FIFO that no writer has opened yet reads as empty.
     */
    private static byte[] readWhileWriting(Path fifo, int n, long max) throws Exception {
        int fd = InputFiles.open(fifo, InputFiles.Kind.REGULAR_OR_PIPE, "dump");
        CountDownLatch connected = new CountDownLatch(1);
        Thread writer = new Thread(() -> {
            try (FileOutputStream out = new FileOutputStream(fifo.toFile())) {
                connected.countDown();
                out.write(new byte[n]);
            } catch (IOException closedByTheReader) {
                // the reader stopped at its bound
            }
        });
        writer.start();
        try {
            assertTrue(connected.await(10, TimeUnit.SECONDS), "the writer did not connect");
            return InputFiles.read(fd, fifo, max, "dump");
        } finally {
            unistd_h.closeQuietly(fd);
            writer.join(10_000);
        }
    }
}
