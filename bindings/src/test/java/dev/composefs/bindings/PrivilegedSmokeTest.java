package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bindings' calls that need root: mounts, loop devices, device nodes, trusted.* xattrs. */
class PrivilegedSmokeTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void needRoot() {
        assumeTrue(unistd_h.geteuid() == 0, "these tests mount, attach loop devices, make devices and set trusted.* xattrs: run as root");
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
    void xattrsOfAnOPathFdThroughProc() throws Exception {
        Path f = Files.writeString(tmp.resolve("x2"), "data");
        byte[] big = new byte[3000]; // larger than the first-try buffer: exercises the ERANGE retry
        Arrays.fill(big, (byte) 'v');
        sys_xattr_h.lsetxattr(f.toString(), "user.big", big, 0);
        sys_xattr_h.lsetxattr(f.toString(), "trusted.t", new byte[] {1}, 0);
        Path link = Files.createSymbolicLink(tmp.resolve("l2"), f.getFileName());
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, link.toString(), fcntl_h.O_PATH | fcntl_h.O_NOFOLLOW
                | fcntl_h.O_CLOEXEC, 0);
        try {
            assertTrue(sys_xattr_h.listxattr("/proc/self/fd/" + fd).isEmpty(),
                    "the O_PATH fd of a symlink reaches the symlink, not its target");
        } finally {
            unistd_h.close(fd);
        }
        fd = fcntl_h.openat(fcntl_h.AT_FDCWD, f.toString(), fcntl_h.O_PATH | fcntl_h.O_NOFOLLOW | fcntl_h.O_CLOEXEC, 0);
        try {
            List<String> names = sys_xattr_h.listxattr("/proc/self/fd/" + fd).stream()
                    .map(b -> new String(b, StandardCharsets.UTF_8)).sorted().toList();
            assertEquals(List.of("trusted.t", "user.big"), names);
            assertArrayEquals(big, sys_xattr_h.getxattr("/proc/self/fd/" + fd,
                    "user.big".getBytes(StandardCharsets.US_ASCII)));
        } finally {
            unistd_h.close(fd);
        }
    }
}
