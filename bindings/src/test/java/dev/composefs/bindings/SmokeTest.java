package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exercises the bindings alone against the running kernel; mounting tests need root. */
class SmokeTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void needRoot() {
        assumeTrue(unistd_h.geteuid() == 0, "these tests mount, attach loop devices and set trusted.* xattrs: run as root");
    }

    @Test
    void tmpfsThroughTheNewMountApi() throws Exception {
        Path target = Files.createDirectory(tmp.resolve("mnt"));
        int fs = sys_mount_h.fsopen("tmpfs", sys_mount_h.FSOPEN_CLOEXEC);
        int mnt = -1;
        boolean mounted = false;
        try {
            sys_mount_h.fsconfig(fs, sys_mount_h.FSCONFIG_SET_STRING, "size", "1m", 0);
            sys_mount_h.fsconfig(fs, sys_mount_h.FSCONFIG_SET_STRING, "mode", "0700", 0);
            sys_mount_h.fsconfig(fs, sys_mount_h.FSCONFIG_CMD_CREATE, null, null, 0);
            mnt = sys_mount_h.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, 0);
            sys_mount_h.moveMount(mnt, "", fcntl_h.AT_FDCWD, target.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
            mounted = true;
            assertTrue(Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + target + " "),
                    "tmpfs appears in mountinfo");
            Files.writeString(target.resolve("f"), "x");
            assertEquals("x", Files.readString(target.resolve("f")));
            SyscallException bad = assertThrows(SyscallException.class,
                    () -> sys_mount_h.fsconfig(fs, sys_mount_h.FSCONFIG_SET_STRING, "no-such-option", "1", 0));
            assertEquals("EINVAL", bad.errnoName());
            assertTrue(bad.getMessage().startsWith("fsconfig(no-such-option=1): EINVAL"), bad.getMessage());
        } finally {
            unistd_h.closeQuietly(mnt);
            unistd_h.closeQuietly(fs);
            if (mounted) {
                sys_mount_h.umount2(target.toString(), 0);
            }
        }
        assertTrue(!Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + target + " "), "unmounted");
    }

    @Test
    void loopDeviceWithLoopConfigure() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/loop-control")), "no /dev/loop-control (loop module not loaded)");
        Path backing = tmp.resolve("backing.img");
        Files.write(backing, new byte[1 << 20]);
        int ctl = fcntl_h.openat(fcntl_h.AT_FDCWD, "/dev/loop-control", fcntl_h.O_RDWR | fcntl_h.O_CLOEXEC, 0);
        int file = -1;
        int loop = -1;
        String dev = null;
        boolean attached = false;
        try {
            int n = linux_loop_h.getFree(ctl);
            dev = "/dev/loop" + n;
            file = fcntl_h.openat(fcntl_h.AT_FDCWD, backing.toString(), fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
            loop = fcntl_h.openat(fcntl_h.AT_FDCWD, dev, fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0);
            linux_loop_h.configure(loop, dev, file, backing.toString(), linux_loop_h.LO_FLAGS_READ_ONLY, 0);
            attached = true;
            Path sys = Path.of("/sys/block/loop" + n + "/loop/backing_file");
            assertEquals(backing.toString(), Files.readString(sys).strip());
            assertEquals("1", Files.readString(Path.of("/sys/block/loop" + n + "/ro")).strip());
            linux_loop_h.clearFd(loop, dev);
            attached = false;
        } finally {
            if (attached) {
                try {
                    linux_loop_h.clearFd(loop, dev);
                } catch (SyscallException ignored) {
                    // best effort: the test already failed
                }
            }
            unistd_h.closeQuietly(loop);
            unistd_h.closeQuietly(file);
            unistd_h.closeQuietly(ctl);
        }
    }

    @Test
    void xattrRoundTrip() throws Exception {
        Path f = Files.writeString(tmp.resolve("x"), "data");
        byte[] value = {0, 1, 2, (byte) 0xff, '='};
        sys_xattr_h.lsetxattr(f.toString(), "trusted.composefs-test", value, sys_xattr_h.XATTR_CREATE);
        assertTrue(sys_xattr_h.llistxattr(f.toString()).contains("trusted.composefs-test"));
        assertArrayEquals(value, sys_xattr_h.lgetxattr(f.toString(), "trusted.composefs-test"));
        SyscallException again = assertThrows(SyscallException.class,
                () -> sys_xattr_h.lsetxattr(f.toString(), "trusted.composefs-test", value, sys_xattr_h.XATTR_CREATE));
        assertEquals(Errno.EEXIST, again.errno());
        sys_xattr_h.lremovexattr(f.toString(), "trusted.composefs-test");
        SyscallException gone = assertThrows(SyscallException.class,
                () -> sys_xattr_h.lgetxattr(f.toString(), "trusted.composefs-test"));
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
    }

    @Test
    void mknodatMakesDevices() throws Exception {
        Path dev = tmp.resolve("null-copy");
        sys_stat_h.mknodat(fcntl_h.AT_FDCWD, dev.toString(), sys_stat_h.S_IFCHR | 0600, sys_stat_h.makedev(1, 3));
        var st = sys_stat_h.statx(fcntl_h.AT_FDCWD, dev.toString(), fcntl_h.AT_SYMLINK_NOFOLLOW,
                sys_stat_h.STATX_BASIC_STATS);
        assertEquals(sys_stat_h.S_IFCHR, st.type());
        assertEquals(1, st.rdevMajor());
        assertEquals(3, st.rdevMinor());
        assertEquals(sys_stat_h.makedev(1, 3), st.rdev());
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
    void parkedChildHoldsANewUserNamespace() throws Exception {
        int pid = sched_h.cloneParked(sched_h.CLONE_NEWUSER);
        try {
            String mine = Files.readSymbolicLink(Path.of("/proc/self/ns/user")).toString();
            String theirs = Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/user")).toString();
            assertNotEquals(mine, theirs);
        } finally {
            sched_h.killAndReap(pid);
        }
        assertTrue(!Files.exists(Path.of("/proc/" + pid + "/ns/user")) || !Files.readString(
                Path.of("/proc/" + pid + "/status")).contains("State:\tS"), "child is gone");
    }
}
