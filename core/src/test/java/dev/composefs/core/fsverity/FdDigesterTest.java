package dev.composefs.core.fsverity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.util.Parallel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A large file's digest hashed in shared parts, where the file is not as large as its size said. */
class FdDigesterTest {
    @TempDir
    Path tmp;

    /**
     * A file that ends before the size it was taken to have (truncated after its statx) fails
     * the digest with one line naming it, whichever thread's part found the end, and nothing
     * hangs: the other parts are still awaited and the run ends.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void aFileEndingBeforeItsSizeFailsWithOneLine(int threads) throws Exception {
        byte[] data = new byte[40 << 20];
        new Random(40).nextBytes(data);
        Path f = Files.write(tmp.resolve("shorter"), data);
        long said = 80L << 20;
        Parallel.Sharing<FdDigester> sharing = new Parallel.Sharing<>();
        IOException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(IOException.class,
                () -> Parallel.forEach(List.of(f), threads, FdDigester::new, (dg, p) -> {
                    int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, p.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
                    try {
                        dg.digestShared(fd, said, sharing, p.toString());
                    } finally {
                        unistd_h.closeQuietly(fd);
                    }
                }, sharing)));
        assertTrue(e.getMessage().startsWith(f + ": changed while being read (" + said + " bytes, then it ended at "),
                e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    /** Where the file is whole, the shared digest is the one fsverity-utils computes, on any number of threads. */
    @Test
    void theSharedDigestOfAWholeFileIsFsverityUtilsDigest() throws Exception {
        byte[] data = new byte[(37 << 20) + 12345];
        new Random(37).nextBytes(data);
        Path f = Files.write(tmp.resolve("whole"), data);
        String expected = FsVerityTest.reference(f);
        for (int threads : new int[] {1, 2, 4}) {
            Parallel.Sharing<FdDigester> sharing = new Parallel.Sharing<>();
            String[] got = new String[1];
            Parallel.forEach(List.of(f), threads, FdDigester::new, (dg, p) -> {
                int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, p.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
                try {
                    FdDigester.Result r = dg.digestShared(fd, data.length, sharing, p.toString());
                    assertEquals(data.length, r.size());
                    got[0] = FsVerity.hex(r.digest());
                } finally {
                    unistd_h.closeQuietly(fd);
                }
            }, sharing);
            assertEquals(expected, got[0], threads + " threads");
        }
    }
}
