package dev.composefs.core.oci;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.mount.MountCalls;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import dev.composefs.core.util.Staging;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A composefs image mounted into a container's root filesystem, from inside the container's
 * mount namespace before the runtime pivots into it: at a path below the rootfs, or as the
 * whole root. For the whole root, the image is mounted at a staging directory, the mounts the
 * runtime already made inside the rootfs (/proc, /dev, /sys, ...) are moved into it, and it is
 * moved onto the rootfs; mounting straight over the rootfs would hide them.
 */
public final class RootfsMount {
    private RootfsMount() {}

    /**
     * The directory rel names inside the rootfs root, made where missing, with every symlink on
     * the way resolved as the container will see it (openat2 RESOLVE_IN_ROOT): the rootfs comes
     * from an image, and a symlink in it must not lead root to make or mount on a host directory.
     * Returns the directory's real path, read back from the descriptor that resolution opened.
     */
    static Path inRoot(Path root, Path rel, String target) throws MountException {
        int rootFd = -1;
        int dir = -1;
        try {
            rootFd = fcntl_h.openat2(fcntl_h.AT_FDCWD, root.toString(), fcntl_h.O_PATH | fcntl_h.O_DIRECTORY
                    | fcntl_h.O_CLOEXEC, 0, 0);
            dir = rootFd;
            StringBuilder sofar = new StringBuilder();
            for (Path part : rel) {
                sofar.append(sofar.isEmpty() ? "" : "/").append(part);
                int next;
                try {
                    next = openInRoot(rootFd, sofar.toString());
                } catch (SyscallException e) {
                    if (!e.is(Errno.ENOENT)) {
                        throw e;
                    }
                    try {
                        sys_stat_h.mkdirat(dir, part.toString(), 0755); // in the resolved parent: no link followed
                    } catch (SyscallException made) {
                        if (made.is(Errno.EEXIST)) { // a symlink to nothing in the root
                            throw MountException.usage("target " + target + ": /" + sofar + " is a symlink to no "
                                    + "directory inside the container's root");
                        }
                        throw made;
                    }
                    next = openInRoot(rootFd, sofar.toString());
                }
                if (dir != rootFd) {
                    unistd_h.closeQuietly(dir);
                }
                dir = next;
            }
            Path real = Path.of(new String(unistd_h.readlinkat(fcntl_h.AT_FDCWD,
                    ("/proc/self/fd/" + dir).getBytes(StandardCharsets.UTF_8)),
                    StandardCharsets.ISO_8859_1));
            if (!real.startsWith(root) || real.equals(root)) {
                throw MountException.usage("target " + target + ": resolves to the container's root itself");
            }
            return real;
        } catch (SyscallException e) {
            throw MountException.failed("target " + target + ": cannot make or open it inside the container's root: "
                    + e.getMessage(), e);
        } finally {
            if (dir != rootFd && dir >= 0) {
                unistd_h.closeQuietly(dir);
            }
            if (rootFd >= 0) {
                unistd_h.closeQuietly(rootFd);
            }
        }
    }

    private static int openInRoot(int rootFd, String rel) throws SyscallException {
        return fcntl_h.openat2(rootFd, rel, fcntl_h.O_PATH | fcntl_h.O_DIRECTORY | fcntl_h.O_CLOEXEC, 0,
                fcntl_h.RESOLVE_IN_ROOT | fcntl_h.RESOLVE_NO_MAGICLINKS);
    }

    /** Mounts image at target ("/" or an absolute path inside the container) below rootfs. */
    public static Mounter.Result mount(Mounter mounter, MountCalls sys, Path image, Path rootfs, String target,
            MountOptions o) throws MountException {
        if (!target.startsWith("/")) {
            throw MountException.usage("target " + target + ": not an absolute path in the container");
        }
        Path root = rootfs.toAbsolutePath().normalize();
        if (!target.equals("/")) {
            Path where = root.resolve(target.substring(1)).normalize();
            if (!where.startsWith(root) || where.equals(root)) {
                throw MountException.usage("target " + target + ": not below the container's root");
            }
            return mounter.mount(image, inRoot(root, root.relativize(where), target), o);
        }
        Path stage;
        try {
            stage = Files.createTempDirectory(Staging.parent(), ".composefs-root-");
        } catch (IOException e) {
            throw MountException.failed("cannot make a staging directory: " + e.getMessage(), e);
        }
        try {
            Mounter.Result r = mounter.mount(image, stage, o);
            try {
                for (Path m : childMounts(root)) {
                    Path dest = stage.resolve(root.relativize(m).toString());
                    if (!Files.isDirectory(dest)) {
                        throw MountException.failed("the image has no /" + root.relativize(m)
                                + " for the container's own mount there", null);
                    }
                    sys.moveMount(fcntl_h.AT_FDCWD, m.toString(), fcntl_h.AT_FDCWD, dest.toString(), 0);
                }
                sys.moveMount(fcntl_h.AT_FDCWD, stage.toString(), fcntl_h.AT_FDCWD, root.toString(), 0);
            } catch (SyscallException | MountException e) {
                try {
                    sys.umount2(stage.toString(), sys_mount_h.MNT_DETACH);
                } catch (SyscallException ignored) {
                    // the original error says what went wrong
                }
                throw e instanceof MountException m ? m
                        : MountException.failed("cannot make the image the container's root: " + e.getMessage(), e);
            }
            return r;
        } finally {
            try {
                Files.deleteIfExists(stage); // empty again: its mount was moved onto the rootfs
            } catch (IOException ignored) {
                // a leftover empty directory under /run is harmless
            }
        }
    }

    /** The mounts directly on top of the rootfs mount (proc, dev, sys, ...), from /proc/self/mountinfo. */
    static List<Path> childMounts(Path root) throws MountException {
        List<String[]> lines = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                lines.add(line.split(" "));
            }
        } catch (IOException e) {
            throw MountException.failed("cannot read /proc/self/mountinfo: " + e.getMessage(), e);
        }
        String rootId = null;
        for (String[] f : lines) {
            if (Path.of(unescape(f[4])).equals(root)) {
                rootId = f[0]; // the last one is the top mount there
            }
        }
        List<Path> out = new ArrayList<>();
        for (String[] f : lines) {
            if (f[1].equals(rootId)) {
                out.add(Path.of(unescape(f[4])));
            }
        }
        return out;
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
