package dev.composefs.core.mount;

import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_CMD_CREATE;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_SET_FLAG;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_SET_STRING;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_loop_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.util.Staging;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The image as a detached read-only EROFS mount: file-backed from the image fd (6.12+), else on
 * a read-only autoclear loop device, idmapped when asked; and, for kernels whose overlayfs takes
 * no detached layers, attached at a staging directory while the overlay is built.
 */
final class ErofsLayer {
    /** Staging directories are named with the pid of the process that made them, so a later run can tell leftovers. */
    private static final String STAGING_PREFIX = ".composefs-";

    private final MountState st;
    private final KernelProbe kernel;

    ErofsLayer(MountState st, KernelProbe kernel) {
        this.st = st;
        this.kernel = kernel;
    }

    /** Mounts the image (idmapped with userns when that is not -1); returns the detached mount's fd. */
    int mount(Path image, int imageFd, int userns) throws MountException {
        int mnt = -1;
        if (kernel.erofsFileBacked()) {
            try {
                mnt = from("/proc/self/fd/" + imageFd);
                st.note("EROFS mounted from the image file (file-backed)");
            } catch (SyscallException e) {
                notAnImage(image, imageFd, e);
                noFilesystem(e, "erofs", "CONFIG_EROFS_FS");
                if (e.is(Errno.EPERM) && e.call().equals("fsopen")) {
                    // a loop device's mount needs the same privilege: its EACCES on /dev/loop-control would mislead
                    throw MountException.failed(image + ": cannot mount the image as EROFS: " + e.getMessage()
                            + "; mounting needs root (CAP_SYS_ADMIN in the initial user namespace)", e);
                }
                st.note("file-backed EROFS failed (" + e.getMessage() + "); using a loop device");
            }
        }
        if (mnt < 0) {
            mnt = onLoop(image, imageFd);
        }
        if (userns >= 0) {
            try {
                st.sys.mountSetattr(mnt, "", fcntl_h.AT_EMPTY_PATH, sys_mount_h.MOUNT_ATTR_IDMAP, 0, 0, userns);
                st.note("EROFS layer idmapped");
            } catch (SyscallException e) {
                throw MountException.failed("cannot idmap the image mount: " + e.getMessage(), e);
            }
        }
        return mnt;
    }

    /**
     * EROFS answers a file that is no image at all with a bare EINVAL (its reason goes to the
     * kernel log only): after that failure, and only then, the header says which it was.
     */
    private static void notAnImage(Path image, int imageFd, SyscallException e) throws MountException {
        if (e.is(Errno.EINVAL)) {
            ImageCheck.checkHeader(image, imageFd);
        }
    }

    /**
     * fsopen's ENODEV: the kernel has no such filesystem, built in or as a module it could load.
     * Said as that, not as the errno: no loop device or later strategy can help.
     */
    static void noFilesystem(SyscallException e, String fs, String config) throws MountException {
        if (e.is(Errno.ENODEV) && e.call().equals("fsopen")) {
            throw MountException.failed("this kernel has no " + fs + " filesystem (" + config + ", built in or as the "
                    + fs + " module): " + e.getMessage(), e);
        }
    }

    private int from(String source) throws SyscallException {
        int fs = st.sys.fsopen("erofs", sys_mount_h.FSOPEN_CLOEXEC);
        try {
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0);
            st.sys.fsconfig(fs, FSCONFIG_SET_FLAG, "ro", null, 0);
            st.sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            return st.keepMount(st.sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, sys_mount_h.MOUNT_ATTR_RDONLY));
        } catch (SyscallException e) {
            throw KernelLog.attach(st.sys, fs, e);
        } finally {
            st.closeMount(fs);
        }
    }

    /** LOOP_CONFIGURE read-only with autoclear: the device goes away with the last EROFS reference. */
    private int onLoop(Path image, int imageFd) throws MountException {
        SyscallException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int control = -1;
            int loop = -1;
            try {
                control = fcntl_h.openat(fcntl_h.AT_FDCWD, "/dev/loop-control", fcntl_h.O_RDWR | O_CLOEXEC, 0);
                int n = linux_loop_h.getFree(control);
                String dev = "/dev/loop" + n;
                loop = openLoop(dev, n);
                try {
                    linux_loop_h.configure(loop, dev, imageFd, image.toString(),
                            linux_loop_h.LO_FLAGS_READ_ONLY | linux_loop_h.LO_FLAGS_AUTOCLEAR, 0);
                } catch (SyscallException e) {
                    if (e.is(Errno.EBUSY)) {
                        last = e; // another process took this device between GET_FREE and CONFIGURE
                        continue;
                    }
                    throw e;
                }
                int mnt = from(dev);
                st.note("EROFS mounted from " + dev + " (read-only, autoclear)");
                return mnt;
            } catch (SyscallException e) {
                notAnImage(image, imageFd, e);
                throw MountException.failed(image + ": cannot mount the image as EROFS: " + e.getMessage(), e);
            } finally {
                unistd_h.closeQuietly(loop); // with autoclear, closing an unmounted device detaches it
                unistd_h.closeQuietly(control);
            }
        }
        throw MountException.failed(image + ": no free loop device: " + last.getMessage(), last);
    }

    /**
     * Opens /dev/loopN. In a container /dev holds only the devices passed in, while
     * LOOP_CTL_GET_FREE may name another: the node is made then (block major 7), which works
     * where the device cgroup allows loop devices (docker: --device-cgroup-rule='b 7:* rmw').
     */
    private int openLoop(String dev, int n) throws SyscallException {
        try {
            return fcntl_h.openat(fcntl_h.AT_FDCWD, dev, O_RDONLY | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            if (!e.is(Errno.ENOENT)) {
                throw e;
            }
            try {
                sys_stat_h.mknodat(fcntl_h.AT_FDCWD, dev, sys_stat_h.S_IFBLK | 0660, sys_stat_h.makedev(7, n));
                st.note(dev + " was missing (a container's /dev?): created it");
            } catch (SyscallException m) {
                if (!m.is(Errno.EEXIST)) {
                    throw m;
                }
            }
            return fcntl_h.openat(fcntl_h.AT_FDCWD, dev, O_RDONLY | O_CLOEXEC, 0);
        }
    }

    /**
     * Attaches the detached EROFS mount at a new private directory (before 6.15 overlayfs cannot
     * take a detached mount as a layer: "failed to clone lowerpath"). A process killed before
     * {@link #unstage} leaves that mount behind; each staging directory carries its maker's pid,
     * and the leftovers of processes that are gone are removed here first.
     */
    Path stage(int erofs) throws MountException {
        Path parent = Staging.parent();
        removeLeftovers(parent);
        Path dir = null;
        try {
            dir = Files.createTempDirectory(parent, STAGING_PREFIX + ProcessHandle.current().pid() + "-");
            st.sys.moveMount(erofs, "", fcntl_h.AT_FDCWD, dir.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
            st.note("EROFS attached at " + dir + " while the overlay is set up (kernel before 6.15 takes no detached layers)");
            return dir;
        } catch (IOException e) {
            if (dir != null) {
                try {
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // the original error matters more
                }
            }
            throw MountException.failed("cannot attach the EROFS layer at a staging directory: " + e.getMessage(), e);
        }
    }

    void unstage(Path dir) throws MountException {
        try {
            st.sys.umount2(dir.toString(), sys_mount_h.MNT_DETACH);
            Files.delete(dir);
        } catch (IOException e) {
            throw MountException.failed("cannot remove the EROFS staging mount " + dir + ": " + e.getMessage(), e);
        }
    }

    private void removeLeftovers(Path parent) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, STAGING_PREFIX + "*-*")) {
            for (Path dir : ds) {
                String rest = dir.getFileName().toString().substring(STAGING_PREFIX.length());
                long pid;
                try {
                    pid = Long.parseLong(rest.substring(0, rest.indexOf('-')));
                } catch (NumberFormatException | IndexOutOfBoundsException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).isPresent()) {
                    continue; // its maker (or a process with its pid) still runs: not ours to touch
                }
                try {
                    st.sys.umount2(dir.toString(), sys_mount_h.MNT_DETACH);
                } catch (SyscallException e) {
                    // EINVAL: not a mount point (the maker died before attaching); the rmdir still applies
                }
                try {
                    Files.delete(dir);
                    st.note("removed the staging mount " + dir + " left by a killed mount (pid " + pid + ")");
                } catch (IOException e) {
                    st.note("cannot remove the leftover staging directory " + dir + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            // an unreadable /run only means no leftovers are removed this time
        }
    }
}
