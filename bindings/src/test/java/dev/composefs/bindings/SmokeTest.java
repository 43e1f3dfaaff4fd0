package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exercises the bindings alone against the running kernel, as any user (PrivilegedSmokeTest: what needs root). */
class SmokeTest {
    @TempDir
    Path tmp;

    /** A spawned program's standard input is our socket: what it writes there, the other end reads. */
    @Test
    void spawnGivesAProgramOurSocketAsItsStandardInput() throws Exception {
        int[] pair = sys_socket_h.socketpair("test");
        try {
            int pid = spawn_h.spawn("/bin/sh", List.of("sh", "-c", "printf \"$GREETING\" >&0"),
                    List.of("GREETING=hello from $0", "PATH=/usr/bin:/bin"), pair[1]);
            assertEquals(0, spawn_h.waitFor(pid, "sh"));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(64);
                long n = unistd_h.read(pair[0], buf, "socket");
                assertEquals("hello from $0", new String(Native.toBytes(buf, n), StandardCharsets.US_ASCII));
            }
            int pid2 = spawn_h.spawn("/bin/sh", List.of("sh", "-c", "exit 7"), List.of(), pair[1]);
            assertEquals(7, spawn_h.waitFor(pid2, "sh"));
            SyscallException missing = assertThrows(SyscallException.class,
                    () -> spawn_h.spawn("/no/such/program", List.of("x"), List.of(), pair[1]));
            assertEquals(Errno.ENOENT, missing.errno());
            unistd_h.close(pair[1]);
            pair[1] = -1;
            assertEquals(-1, sys_socket_h.receiveFd(pair[0], "socket"), "the peer closed without sending a descriptor");
        } finally {
            unistd_h.closeQuietly(pair[0]);
            if (pair[1] >= 0) {
                unistd_h.closeQuietly(pair[1]);
            }
        }
    }

    @Test
    void xattrRoundTrip() throws Exception {
        Path f = Files.writeString(tmp.resolve("x"), "data");
        byte[] value = {0, 1, 2, (byte) 0xff, '='};
        sys_xattr_h.lsetxattr(f.toString(), "user.composefs-test", value, sys_xattr_h.XATTR_CREATE);
        assertTrue(sys_xattr_h.llistxattr(f.toString()).contains("user.composefs-test"));
        assertArrayEquals(value, sys_xattr_h.lgetxattr(f.toString(), "user.composefs-test"));
        SyscallException again = assertThrows(SyscallException.class,
                () -> sys_xattr_h.lsetxattr(f.toString(), "user.composefs-test", value, sys_xattr_h.XATTR_CREATE));
        assertEquals(Errno.EEXIST, again.errno());
        sys_xattr_h.lremovexattr(f.toString(), "user.composefs-test");
        SyscallException gone = assertThrows(SyscallException.class,
                () -> sys_xattr_h.lgetxattr(f.toString(), "user.composefs-test"));
        assertEquals("ENODATA", gone.errnoName());
        assertTrue(gone.getMessage().contains(f.toString()), "error names the path: " + gone.getMessage());
    }

    @Test
    void statxOfAFileAndASymlink() throws Exception {
        Path f = Files.write(tmp.resolve("s"), new byte[12345]);
        Files.setLastModifiedTime(f, FileTime.from(1_600_000_000L, TimeUnit.SECONDS));
        Path link = Files.createSymbolicLink(tmp.resolve("l"), Path.of("s"));
        var st = sys_stat_h.statx(fcntl_h.AT_FDCWD, f.toString(), fcntl_h.AT_SYMLINK_NOFOLLOW,
                sys_stat_h.STATX_BASIC_STATS);
        assertEquals(12345, st.size());
        assertEquals(sys_stat_h.S_IFREG, st.type());
        assertEquals(1_600_000_000L, st.mtimeSec());
        assertEquals(Files.getAttribute(f, "unix:ino"), st.ino());
        assertEquals(Files.getAttribute(f, "unix:mode"), st.mode());
        var ls = sys_stat_h.statx(fcntl_h.AT_FDCWD, link.toString(), fcntl_h.AT_SYMLINK_NOFOLLOW,
                sys_stat_h.STATX_BASIC_STATS);
        assertEquals(sys_stat_h.S_IFLNK, ls.type());
        assertEquals(1, ls.size());
        SyscallException missing = assertThrows(SyscallException.class, () -> sys_stat_h.statx(fcntl_h.AT_FDCWD,
                tmp.resolve("nope").toString(), 0, sys_stat_h.STATX_BASIC_STATS));
        assertEquals("ENOENT", missing.errnoName());
        // the mount ID is the one /proc/self/mountinfo gives the mount the file is on
        String procLine = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .filter(l -> l.split(" ")[4].equals("/proc")).reduce((a, b) -> b).orElseThrow();
        assertEquals(Long.parseLong(procLine.split(" ")[0]), sys_stat_h.mountId(fcntl_h.AT_FDCWD, "/proc/self", 0),
                procLine);
    }

    @Test
    void fsVerityEnableOrAPreciseError() throws Exception {
        Path f = Files.writeString(tmp.resolve("v"), "hello world\n");
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, f.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        try {
            try {
                linux_fsverity_h.enableVerity(fd, f.toString());
            } catch (SyscallException e) {
                // This host's kernel (and tmpfs everywhere) has no fs-verity: the error must say so.
                assertTrue(List.of("EOPNOTSUPP", "ENOTTY").contains(e.errnoName()), e.getMessage());
                assertTrue(e.getMessage().startsWith("ioctl FS_IOC_ENABLE_VERITY(" + f + "): " + e.errnoName()),
                        e.getMessage());
                SyscallException m = assertThrows(SyscallException.class,
                        () -> linux_fsverity_h.measureVerity(fd, f.toString()));
                assertTrue(List.of("EOPNOTSUPP", "ENOTTY", "ENODATA").contains(m.errnoName()), m.getMessage());
                return;
            }
            var measured = linux_fsverity_h.measureVerity(fd, f.toString());
            assertEquals(linux_fsverity_h.FS_VERITY_HASH_ALG_SHA256, measured.algorithm());
            Process p = new ProcessBuilder("fsverity", "digest", "--compact", f.toString()).start();
            String expected = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
            assertEquals(0, p.waitFor());
            assertEquals(expected, HexFormat.of().formatHex(measured.digest()));
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    @Test
    void sealedMemfdRefusesWrites() throws Exception {
        int fd = sys_mman_h.memfdCreate("composefs-test", sys_mman_h.MFD_CLOEXEC | sys_mman_h.MFD_ALLOW_SEALING);
        try {
            Path p = Path.of("/proc/self/fd/" + fd);
            Files.writeString(p, "image");
            fcntl_h.fcntl(fd, fcntl_h.F_ADD_SEALS, fcntl_h.F_SEAL_WRITE | fcntl_h.F_SEAL_GROW | fcntl_h.F_SEAL_SHRINK
                    | fcntl_h.F_SEAL_SEAL);
            int seals = fcntl_h.fcntl(fd, fcntl_h.F_GET_SEALS, 0);
            assertEquals(fcntl_h.F_SEAL_WRITE, seals & fcntl_h.F_SEAL_WRITE);
            assertThrows(IOException.class, () -> Files.writeString(p, "evil"));
            assertEquals("image", Files.readString(p));
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    @Test
    void openat2StaysBeneath() throws Exception {
        Files.createDirectory(tmp.resolve("store"));
        Files.writeString(tmp.resolve("secret"), "s");
        int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, tmp.resolve("store").toString(),
                fcntl_h.O_PATH | fcntl_h.O_DIRECTORY | fcntl_h.O_CLOEXEC, 0);
        try {
            SyscallException e = assertThrows(SyscallException.class, () -> fcntl_h.openat2(dir, "../secret",
                    fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0, fcntl_h.RESOLVE_BENEATH));
            assertEquals("EXDEV", e.errnoName());
        } finally {
            unistd_h.closeQuietly(dir);
        }
    }

    @Test
    void rawByteNamesThroughGetdentsStatxOpenatAndReadlinkat() throws Exception {
        byte[] odd = {'a', (byte) 0xff, (byte) 0xfe, 'z'}; // not UTF-8: must survive byte for byte
        int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, tmp.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY
                | fcntl_h.O_CLOEXEC, 0);
        try {
            int fd = fcntl_h.openat(dir, odd, fcntl_h.O_WRONLY | fcntl_h.O_CREAT | fcntl_h.O_EXCL
                    | fcntl_h.O_CLOEXEC, 0640);
            try (Arena arena = Arena.ofConfined()) {
                unistd_h.writeFully(fd, arena.allocateFrom("hello"), 5, "odd");
            } finally {
                unistd_h.close(fd);
            }
            Files.createSymbolicLink(tmp.resolve("link"), Path.of("target/with/slashes"));
            List<dirent_h.Entry> entries = dirent_h.readAll(dir, tmp.toString());
            assertEquals(2, entries.size(), "getdents64 skips . and ..");
            dirent_h.Entry e = entries.stream().filter(x -> x.name().length == 4).findFirst().orElseThrow();
            assertArrayEquals(odd, e.name());
            assertEquals(dirent_h.DT_REG, e.type());
            sys_stat_h.Statx st = sys_stat_h.statx(dir, odd, fcntl_h.AT_SYMLINK_NOFOLLOW, sys_stat_h.STATX_BASIC_STATS);
            assertEquals(5, st.size());
            assertEquals(sys_stat_h.S_IFREG | 0640, st.mode());
            assertEquals(e.ino(), st.ino());
            assertArrayEquals("target/with/slashes".getBytes(StandardCharsets.US_ASCII),
                    unistd_h.readlinkat(dir, "link".getBytes(StandardCharsets.US_ASCII)));
        } finally {
            unistd_h.close(dir);
        }
    }

    @Test
    void getdentsThroughOneCallerBufferAcrossBatchesAndDirectories() throws Exception {
        // 3000 names of 1..255 bytes: about 400 KiB of records, so several batches of 64 KiB,
        // whose sizes differ from batch to batch (the copy out is as large as each batch)
        Path big = Files.createDirectory(tmp.resolve("big"));
        Set<String> want = new HashSet<>();
        for (int i = 0; i < 3000; i++) {
            String name = i + "-" + "n".repeat(i % 250);
            Files.createFile(big.resolve(name));
            want.add(name);
        }
        Files.createFile(Files.createDirectory(tmp.resolve("small")).resolve("only"));
        try (Arena arena = Arena.ofConfined(); Scratch scratch = Scratch.open()) {
            MemorySegment buf = dirent_h.buffer(arena);
            for (int round = 0; round < 2; round++) { // the buffer is reused, stale bytes and all
                int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, big.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY
                        | fcntl_h.O_CLOEXEC, 0);
                int small = fcntl_h.openat(fcntl_h.AT_FDCWD, tmp.resolve("small").toString(), fcntl_h.O_RDONLY
                        | fcntl_h.O_DIRECTORY | fcntl_h.O_CLOEXEC, 0);
                try {
                    Set<String> got = new HashSet<>();
                    for (dirent_h.Entry e : dirent_h.readAll(scratch, dir, buf, big.toString())) {
                        assertTrue(got.add(new String(e.name(), StandardCharsets.US_ASCII)), "each name once");
                    }
                    assertEquals(want, got);
                    List<dirent_h.Entry> one = dirent_h.readAll(scratch, small, buf, "small");
                    assertEquals(1, one.size());
                    assertArrayEquals("only".getBytes(StandardCharsets.US_ASCII), one.get(0).name());
                } finally {
                    unistd_h.close(dir);
                    unistd_h.close(small);
                }
            }
            assertThrows(IllegalArgumentException.class,
                    () -> dirent_h.readAll(null, fcntl_h.AT_FDCWD, buf.asSlice(0, 4096), "short buffer"));
        }
    }

    @Test
    void renameNoreplaceRefusesToOverwrite() throws Exception {
        Files.writeString(tmp.resolve("a"), "new");
        Files.writeString(tmp.resolve("b"), "old");
        SyscallException e = assertThrows(SyscallException.class, () -> stdio_h.renameat2(fcntl_h.AT_FDCWD,
                tmp.resolve("a").toString(), fcntl_h.AT_FDCWD, tmp.resolve("b").toString(), stdio_h.RENAME_NOREPLACE));
        assertEquals("EEXIST", e.errnoName());
        assertEquals("old", Files.readString(tmp.resolve("b")));
        stdio_h.renameat2(fcntl_h.AT_FDCWD, tmp.resolve("a").toString(), fcntl_h.AT_FDCWD,
                tmp.resolve("c").toString(), stdio_h.RENAME_NOREPLACE);
        assertEquals("new", Files.readString(tmp.resolve("c")));
        sys_stat_h.mkdirat(fcntl_h.AT_FDCWD, tmp.resolve("d").toString(), 0750);
        assertTrue(Files.isDirectory(tmp.resolve("d")));
        unistd_h.unlinkat(fcntl_h.AT_FDCWD, tmp.resolve("d").toString(), fcntl_h.AT_REMOVEDIR);
        unistd_h.unlinkat(fcntl_h.AT_FDCWD, tmp.resolve("c").toString(), 0);
        assertTrue(Files.notExists(tmp.resolve("c")) && Files.notExists(tmp.resolve("d")));
    }

    @Test
    void copyFileRangeFchmodAndReadBack() throws Exception {
        byte[] data = new byte[200_000];
        new java.util.Random(7).nextBytes(data);
        Path src = Files.write(tmp.resolve("src"), data);
        int in = fcntl_h.openat(fcntl_h.AT_FDCWD, src.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        int out = fcntl_h.openat(fcntl_h.AT_FDCWD, tmp.resolve("dst").toString(),
                fcntl_h.O_WRONLY | fcntl_h.O_CREAT | fcntl_h.O_CLOEXEC, 0600);
        try {
            long total = 0;
            for (long n; (n = unistd_h.copyFileRange(in, out, 1 << 20, "dst")) > 0; ) {
                total += n;
            }
            assertEquals(data.length, total);
            sys_stat_h.fchmod(out, 0644, "dst");
        } finally {
            unistd_h.close(in);
            unistd_h.close(out);
        }
        assertArrayEquals(data, Files.readAllBytes(tmp.resolve("dst")));
        assertEquals(sys_stat_h.S_IFREG | 0644, sys_stat_h.statx(fcntl_h.AT_FDCWD, tmp.resolve("dst").toString(), 0,
                sys_stat_h.STATX_MODE).mode());
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, src.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096);
            assertEquals(4096, unistd_h.read(fd, buf, "src"));
            assertArrayEquals(java.util.Arrays.copyOf(data, 4096), buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            // pread: at a position, into the buffer at an offset, the file offset left where read put it
            assertEquals(1000, unistd_h.pread(null, fd, buf, 96, 1000, 150_000, "src"));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 150_000, 151_000),
                    buf.asSlice(96, 1000).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertEquals(0, unistd_h.pread(null, fd, buf, 0, 4096, data.length, "src"), "0 at the end");
            assertEquals(4096, unistd_h.read(fd, buf, "src"));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 4096, 8192), buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        } finally {
            unistd_h.close(fd);
        }
        assertTrue(!unistd_h.isatty(fd), "a closed fd is no terminal");
        int file = fcntl_h.openat(fcntl_h.AT_FDCWD, src.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        try {
            assertTrue(!unistd_h.isatty(file), "a regular file is no terminal");
        } finally {
            unistd_h.close(file);
        }
        int pty = fcntl_h.openat(fcntl_h.AT_FDCWD, "/dev/ptmx", fcntl_h.O_RDWR | fcntl_h.O_NOCTTY | fcntl_h.O_CLOEXEC, 0);
        try {
            assertTrue(unistd_h.isatty(pty), "a pseudo-terminal is a terminal");
        } finally {
            unistd_h.close(pty);
        }
    }

    @Test
    void flockExcludesASecondExclusiveHolder() throws Exception {
        Path f = Files.writeString(tmp.resolve("lock"), "");
        int a = fcntl_h.openat(fcntl_h.AT_FDCWD, f.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        int b = fcntl_h.openat(fcntl_h.AT_FDCWD, f.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
        try {
            sys_file_h.flock(a, sys_file_h.LOCK_SH, "lock");
            SyscallException e = assertThrows(SyscallException.class,
                    () -> sys_file_h.flock(b, sys_file_h.LOCK_EX | sys_file_h.LOCK_NB, "lock"));
            assertEquals("EAGAIN", e.errnoName(), "EWOULDBLOCK is EAGAIN on Linux");
            sys_file_h.flock(b, sys_file_h.LOCK_SH | sys_file_h.LOCK_NB, "lock");
        } finally {
            unistd_h.close(a);
            unistd_h.close(b);
        }
    }
}
