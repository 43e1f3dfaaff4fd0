package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScratchTest {
    @TempDir
    Path tmp;

    /** A path of about 3.5 KiB under tmp: deep enough that two of them and a statx fill the area. */
    private Path deep() throws Exception {
        Path p = tmp;
        for (int i = 0; p.toString().length() < 3500; i++) {
            p = p.resolve("d" + i + "-" + "x".repeat(200));
        }
        return Files.createDirectories(p);
    }

    @Test
    void everyCallTakesBackWhatItAllocated() throws Exception {
        Path deep = deep();
        Files.writeString(deep.resolve("f"), "12345");
        Files.createSymbolicLink(deep.resolve("l"), deep.resolve("f"));
        byte[] f = deep.resolve("f").toString().getBytes(StandardCharsets.UTF_8);
        byte[] l = deep.resolve("l").toString().getBytes(StandardCharsets.UTF_8);
        try (Scratch s = Scratch.open()) {
            for (int i = 0; i < 1000; i++) { // a leak of even one path a call would overflow the area at once
                assertEquals(5, sys_stat_h.statx(s, fcntl_h.AT_FDCWD, f, 0, sys_stat_h.STATX_BASIC_STATS).size());
                // PATH_MAX for the target, and the path: more than a one-call scratch holds, so the
                // target's buffer overflows and must outlive the call that fills it
                assertArrayEquals(f, unistd_h.readlinkat(s, fcntl_h.AT_FDCWD, l));
                int fd = fcntl_h.openat(s, fcntl_h.AT_FDCWD, f, fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
                unistd_h.close(s, fd);
            }
            assertEquals(0, s.mark(), "nothing left allocated");
            s.release(0);
        }
        // without a scratch, each call has its own: the same results
        assertArrayEquals(f, unistd_h.readlinkat(fcntl_h.AT_FDCWD, l));
    }

    @Test
    void errnoComesThroughAndTheNextCallStillWorks() throws Exception {
        try (Scratch s = Scratch.open()) {
            byte[] missing = tmp.resolve("missing").toString().getBytes(StandardCharsets.UTF_8);
            SyscallException e = assertThrows(SyscallException.class,
                    () -> sys_stat_h.statx(s, fcntl_h.AT_FDCWD, missing, 0, sys_stat_h.STATX_BASIC_STATS));
            assertEquals("ENOENT", e.errnoName());
            e = assertThrows(SyscallException.class, () -> unistd_h.close(s, 1 << 20));
            assertEquals("EBADF", e.errnoName());
            byte[] here = tmp.toString().getBytes(StandardCharsets.UTF_8);
            assertEquals(sys_stat_h.S_IFDIR,
                    sys_stat_h.statx(s, fcntl_h.AT_FDCWD, here, 0, sys_stat_h.STATX_BASIC_STATS).type());
            assertEquals(0, s.mark());
            s.release(0);
        }
    }

    @Test
    void anotherThreadCannotUseIt() throws Exception {
        byte[] here = tmp.toString().getBytes(StandardCharsets.UTF_8);
        try (Scratch s = Scratch.open()) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> CompletableFuture.supplyAsync(() -> {
                try {
                    return sys_stat_h.statx(s, fcntl_h.AT_FDCWD, here, 0, sys_stat_h.STATX_BASIC_STATS);
                } catch (SyscallException x) {
                    throw new AssertionError(x);
                }
            }).get());
            assertEquals(WrongThreadException.class, e.getCause().getClass());
        }
    }
}
