package dev.composefs.core.fuse;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.spawn_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.sys_socket_h;
import dev.composefs.bindings.unistd_h;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Mounting a FUSE connection: with CAP_SYS_ADMIN it is mounted here (mount(2) with the /dev/fuse
 * descriptor); without, through the setuid fusermount3, which mounts and passes the descriptor back over
 * a socket. Read-only, nosuid, nodev, and the kernel checks permissions against the image's
 * modes and ACLs (default_permissions).
 */
public final class FuseMount {
    private FuseMount() {}

    /** Where distributions install fusermount3 (fuse3); a fixed place, not PATH. */
    static final List<Path> FUSERMOUNT = List.of(Path.of("/usr/bin/fusermount3"), Path.of("/bin/fusermount3"));

    /** A mounted connection: the /dev/fuse descriptor to serve, and how to undo the mount. */
    public record Connection(int dev, Path mountpoint, boolean throughFusermount) {}

    /**
     * Mounts an empty connection on mountpoint: with mount(2) where admin (the caller has
     * CAP_SYS_ADMIN), else through fusermount3. allowOther: other users may enter the mount
     * (root's default; for others fusermount3 allows it only where /etc/fuse.conf says
     * user_allow_other).
     */
    public static Connection mount(Path mountpoint, boolean admin, boolean allowOther) throws IOException {
        if (admin) {
            int dev = fcntl_h.openat(fcntl_h.AT_FDCWD, "/dev/fuse", fcntl_h.O_RDWR | fcntl_h.O_CLOEXEC, 0);
            try {
                sys_mount_h.mount("composefs", mountpoint.toString(), "fuse.composefs",
                        sys_mount_h.MS_RDONLY | sys_mount_h.MS_NOSUID | sys_mount_h.MS_NODEV,
                        "fd=" + dev + ",rootmode=40000,user_id=0,group_id=0,default_permissions"
                                + (allowOther ? ",allow_other" : ""));
            } catch (SyscallException e) {
                unistd_h.closeQuietly(dev);
                throw e;
            }
            return new Connection(dev, mountpoint, false);
        }
        return new Connection(fusermount(mountpoint, allowOther), mountpoint, true);
    }

    private static Path fusermount() throws IOException {
        for (Path p : FUSERMOUNT) {
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new IOException("mounting FUSE without root needs fusermount3 (package fuse3), which is not installed");
    }

    private static int fusermount(Path mountpoint, boolean allowOther) throws IOException {
        Path tool = fusermount();
        int[] pair = sys_socket_h.socketpair("fusermount3");
        try {
            int pid = spawn_h.spawn(tool.toString(), List.of("fusermount3", "-o",
                    "ro,nosuid,nodev,default_permissions,fsname=composefs,subtype=composefs"
                            + (allowOther ? ",allow_other" : ""), "--", mountpoint.toString()),
                    List.of("_FUSE_COMMFD=0", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), pair[1]);
            unistd_h.closeQuietly(pair[1]);
            pair[1] = -1;
            int dev = sys_socket_h.receiveFd(pair[0], "fusermount3");
            int status = spawn_h.waitFor(pid, "fusermount3");
            if (dev < 0 || status != 0) {
                if (dev >= 0) {
                    unistd_h.closeQuietly(dev);
                }
                throw new IOException("fusermount3 could not mount " + mountpoint + " (exit status " + status
                        + "; its message is above)");
            }
            return dev;
        } finally {
            unistd_h.closeQuietly(pair[0]);
            if (pair[1] >= 0) {
                unistd_h.closeQuietly(pair[1]);
            }
        }
    }

    /** Unmounts (lazily: the server's end goes when the last user of the mount has left). */
    public static void unmount(Connection c) throws IOException {
        if (!c.throughFusermount()) {
            sys_mount_h.umount2(c.mountpoint().toString(), sys_mount_h.MNT_DETACH);
            return;
        }
        Process p = new ProcessBuilder(fusermount().toString(), "-u", "-z", "--", c.mountpoint().toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (p.waitFor() != 0) {
                throw new IOException("fusermount3 -u " + c.mountpoint() + ": " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + c.mountpoint(), e);
        }
    }
}
