package dev.composefs.core.mount;

import static dev.composefs.bindings.sys_mount_h.FSCONFIG_CMD_CREATE;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_SET_STRING;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The overlay over the EROFS layer with the stores as data-only layers: the new mount API
 * (lowerdir+/datadir+, 6.8+), else the legacy option string ("::" data-only layers, 6.5+; before
 * that the stores as ordinary lower layers, hidden by the image's opaque root and whiteouts).
 *
 * <p>Both interfaces have length limits that would otherwise cut options silently or refuse
 * long paths: fsconfig copies at most 255 bytes of a value, and mount(2) at most 4095 bytes of
 * options. A layer whose path does not fit is passed as /proc/self/fd/N of an O_PATH descriptor
 * (short, and resolved by the kernel to the same directory); an option string that still does
 * not fit is refused, never cut.
 */
final class OverlayMount {
    /** fsconfig(FSCONFIG_SET_STRING) copies at most 256 bytes of a value, the NUL included. */
    static final int FSCONFIG_VALUE_MAX = 255;
    /** mount(2) copies one page of options, the NUL included, and ignores the rest without an error. */
    static final int LEGACY_OPTIONS_MAX = 4095;

    private final MountState st;
    private final KernelProbe kernel;

    OverlayMount(MountState st, KernelProbe kernel) {
        this.st = st;
        this.kernel = kernel;
    }

    /** lower: the EROFS layer as a short path (/proc/self/fd/N or a staging directory). */
    Mounter.Result mount(Path image, Path target, String lower, MountOptions o, boolean verity) throws MountException {
        if (kernel.layerAppendKeys()) {
            try {
                newApi(image, target, lower, o, verity);
                return new Mounter.Result("overlay (new mount API, lowerdir+/datadir+)", st.notes());
            } catch (SyscallException e) {
                ErofsLayer.noFilesystem(e, "overlay", "CONFIG_OVERLAY_FS");
                if (!e.is(Errno.ENOSYS)) {
                    throw MountException.failed("cannot mount overlay at " + target + ": " + e.getMessage(), e);
                }
                st.note("no new mount API (" + e.getMessage() + "); using the legacy option string");
            }
        }
        return legacy(image, target, lower, o, verity);
    }

    private void newApi(Path image, Path target, String lower, MountOptions o, boolean verity)
            throws SyscallException, MountException {
        int fs = st.sys.fsopen("overlay", sys_mount_h.FSOPEN_CLOEXEC);
        int mnt = -1;
        try {
            String source = image.toString();
            set(fs, "source", bytes(source) <= FSCONFIG_VALUE_MAX ? source : "composefs");
            set(fs, "metacopy", "on");
            set(fs, "redirect_dir", "on");
            set(fs, "lowerdir+", lower);
            for (Path b : o.basedirs()) {
                set(fs, "datadir+", st.shortPath(b, FSCONFIG_VALUE_MAX));
            }
            if (o.upperdir() != null) {
                set(fs, "upperdir", st.shortPath(o.upperdir(), FSCONFIG_VALUE_MAX));
                set(fs, "workdir", st.shortPath(o.workdir(), FSCONFIG_VALUE_MAX));
            }
            if (verity) {
                set(fs, "verity", "require");
            }
            try {
                st.sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            } catch (SyscallException e) {
                throw KernelLog.attach(st.sys, fs, e);
            }
            long attrs = o.mountAttrs() | (readOnly(o) ? sys_mount_h.MOUNT_ATTR_RDONLY : 0);
            mnt = st.sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, attrs);
            st.sys.moveMount(mnt, "", fcntl_h.AT_FDCWD, target.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
        } finally {
            st.closeMount(mnt);
            st.closeMount(fs);
        }
    }

    private void set(int fs, String key, String value) throws SyscallException {
        try {
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0);
        } catch (SyscallException e) {
            throw KernelLog.attach(st.sys, fs, e);
        }
    }

    private Mounter.Result legacy(Path image, Path target, String lower, MountOptions o, boolean verity)
            throws MountException {
        if (!kernel.dataOnlyLayers()) {
            st.note("no overlayfs data-only layers before Linux 6.5: the stores become ordinary lower layers, "
                    + "hidden by the image's opaque root and 00..ff whiteouts");
        }
        String opts = legacyOptions(lower, o, verity, false);
        if (bytes(opts) > LEGACY_OPTIONS_MAX) {
            String viaFds = legacyOptions(lower, o, verity, true);
            st.note("the option string with the layers' paths is " + bytes(opts) + " bytes, more than mount(2)'s "
                    + LEGACY_OPTIONS_MAX + ": layers passed as /proc/self/fd/N");
            opts = viaFds;
        }
        if (bytes(opts) > LEGACY_OPTIONS_MAX) {
            throw MountException.failed("cannot mount overlay at " + target + ": the option string is " + bytes(opts)
                    + " bytes even with every layer as /proc/self/fd/N (" + o.basedirs().size() + " stores), more "
                    + "than the " + LEGACY_OPTIONS_MAX + " bytes mount(2) takes; use fewer stores", null);
        }
        try {
            st.sys.mount(image.toString(), target.toString(), "overlay", legacyFlags(o), opts);
        } catch (SyscallException e) {
            throw MountException.failed("cannot mount overlay at " + target + ": " + e.getMessage()
                    + (kernel.dataOnlyLayers() ? "" : " (this kernel has no overlayfs data-only layers)"), e);
        }
        return new Mounter.Result(kernel.dataOnlyLayers() ? "overlay (legacy option string, '::' data-only layers)"
                : "overlay (legacy option string, stores as lower layers: kernel before 6.5)", st.notes());
    }

    /** The option string with the layers' own paths, or with every layer as /proc/self/fd/N. */
    private String legacyOptions(String lower, MountOptions o, boolean verity, boolean viaFds) throws MountException {
        String sep = kernel.dataOnlyLayers() ? "::" : ":";
        StringBuilder opts = new StringBuilder("metacopy=on,redirect_dir=on,lowerdir=").append(escape(lower));
        for (Path b : o.basedirs()) {
            opts.append(sep).append(viaFds ? st.viaFd(b) : escape(b.toString()));
        }
        if (o.upperdir() != null) {
            opts.append(",upperdir=").append(viaFds ? st.viaFd(o.upperdir()) : escape(o.upperdir().toString()));
            opts.append(",workdir=").append(viaFds ? st.viaFd(o.workdir()) : escape(o.workdir().toString()));
        }
        if (verity) {
            opts.append(",verity=require");
        }
        return opts.toString();
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Without an upper layer the overlay can only be read-only; with one, ro still makes it so. */
    private static boolean readOnly(MountOptions o) {
        return o.readOnly() || o.upperdir() == null;
    }

    /** mount(2) flags for the MOUNT_ATTR_* bits: nosuid/nodev/noexec share their values, the atime ones do not. */
    private static long legacyFlags(MountOptions o) {
        long a = o.mountAttrs();
        long flags = a & (sys_mount_h.MOUNT_ATTR_NOSUID | sys_mount_h.MOUNT_ATTR_NODEV | sys_mount_h.MOUNT_ATTR_NOEXEC);
        if ((a & sys_mount_h.MOUNT_ATTR_NOATIME) != 0) {
            flags |= sys_mount_h.MS_NOATIME;
        }
        if ((a & sys_mount_h.MOUNT_ATTR_NODIRATIME) != 0) {
            flags |= sys_mount_h.MS_NODIRATIME;
        }
        return flags | (readOnly(o) ? sys_mount_h.MS_RDONLY : 0);
    }

    /** Escapes a path for overlayfs' legacy option string (',' ':' and '\' are separators or escapes there). */
    static String escape(String path) {
        StringBuilder sb = new StringBuilder(path.length());
        for (char c : path.toCharArray()) {
            if (c == ',' || c == ':' || c == '\\') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.toString();
    }

    /**
     * overlayfs' two rules for upperdir and workdir, whose breach it answers with a bare EINVAL
     * (the reason goes to the kernel log only): one mount, and neither inside the other.
     */
    static void checkUpperAndWork(Path upper, Path work) throws MountException {
        try {
            long upperMount = sys_stat_h.mountId(fcntl_h.AT_FDCWD, upper.toString(), 0);
            long workMount = sys_stat_h.mountId(fcntl_h.AT_FDCWD, work.toString(), 0);
            if (upperMount != workMount) {
                throw MountException.failed("upperdir " + upper + " and workdir " + work
                        + " are on different mounts; overlayfs needs them on one", null);
            }
            Path u = realPath(upper);
            Path w = realPath(work);
            if (w.startsWith(u) || u.startsWith(w)) { // by whole names: the same directory too
                throw MountException.failed("upperdir " + upper + " and workdir " + work
                        + " overlap; overlayfs needs them apart (neither inside the other)", null);
            }
        } catch (SyscallException e) {
            throw MountException.failed("upperdir " + upper + ", workdir " + work + ": " + e.getMessage(), e);
        }
    }

    /** Where a directory is, symlinks resolved: what its O_PATH descriptor's /proc link names. */
    private static Path realPath(Path dir) throws SyscallException {
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, dir.toString(), fcntl_h.O_PATH | fcntl_h.O_CLOEXEC, 0);
        try {
            return Path.of(new String(unistd_h.readlinkat(fcntl_h.AT_FDCWD,
                    ("/proc/self/fd/" + fd).getBytes(StandardCharsets.US_ASCII)),
                    StandardCharsets.UTF_8));
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }
}
