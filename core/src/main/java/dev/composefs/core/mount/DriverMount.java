package dev.composefs.core.mount;

import static dev.composefs.bindings.sys_mount_h.FSCONFIG_CMD_CREATE;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_SET_STRING;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.core.descriptor.DriverImage;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.TreeException;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The kernel composefs driver (the out-of-tree module of the 2022-2023 patch series). It mounts
 * a descriptor, not EROFS, and reads it only from a file in a normal filesystem's page cache, so
 * the image's tree goes into a descriptor cached in the first writable store
 * ({@code descriptors/<fs-verity digest>}, sealed with fs-verity where the filesystem can, reused
 * by later mounts, collected by {@code composefs store gc}); inline files become objects there
 * too (a descriptor holds no content). Mounted with basedir= (':' escaped as '\:'), digest=
 * (only where the descriptor file has fs-verity: the kernel then checks it) and verity_check= (2
 * for verity/digest=, 1 for tryverity, else 0). Whatever the driver cannot show faithfully goes
 * to overlayfs, with the reason in -v.
 */
final class DriverMount {
    private final MountState st;
    private final KernelProbe kernel;

    DriverMount(MountState st, KernelProbe kernel) {
        this.st = st;
        this.kernel = kernel;
    }

    /** Mounts through the driver, or returns null, having said why, where overlayfs has to be used instead. */
    Mounter.Result mount(Path target, Directory tree, MountOptions o, int userns) throws MountException {
        String unsuitable = unsuitable(tree, o);
        if (unsuitable != null) {
            st.note("the kernel registers a composefs filesystem, but " + unsuitable + "; using overlayfs");
            return null;
        }
        DriverImage image;
        try {
            image = DriverImage.of(tree);
        } catch (TreeException e) {
            st.note("the kernel registers a composefs filesystem, but this image has no descriptor form ("
                    + e.getMessage() + "); using overlayfs");
            return null;
        }
        Path storeDir = o.basedirs().stream().filter(Files::isWritable).findFirst().orElse(null);
        if (storeDir == null) {
            st.note("the kernel registers a composefs filesystem, but no store is writable to cache the descriptor"
                    + " (the driver reads it from a file) and the image's inline files; using overlayfs");
            return null;
        }
        try (ObjectStore store = ObjectStore.open(storeDir, false, ObjectStore.Lock.SHARED, st::note)) {
            for (var e : image.inlineObjects().entrySet()) {
                store.put(new ObjectStore.FromBytes(e.getValue(), HexFormat.of().parseHex(e.getKey().replace("/", ""))),
                        "inline " + e.getKey());
            }
            Cached cached = cache(store, image);
            int verityCheck = verityCheck(image.tree(), o);
            return mount(target, image, cached, o, userns, verityCheck);
        } catch (IOException e) {
            if (e instanceof MountException m) {
                throw m;
            }
            st.note("the kernel registers a composefs filesystem, but the descriptor cannot be cached in " + storeDir
                    + " (" + e.getMessage() + "); using overlayfs");
            return null;
        }
    }

    /** The descriptor file as the driver will read it: its fd, path, and whether the kernel measures it. */
    private record Cached(int fd, Path path, boolean sealed, boolean reused) {}

    /**
     * The cached descriptor, written if absent. A file with fs-verity is what its measurement
     * says; one without is compared byte for byte, and written again if it differs.
     */
    private Cached cache(ObjectStore store, DriverImage image) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path path = store.descriptorPath(image.digest());
            boolean reused = !store.putDescriptor(image.descriptor(), image.digest());
            int fd = st.keep(InputFiles.open(path, InputFiles.Kind.REGULAR, "descriptor"));
            byte[] measured = FdDigester.measured(fd, path.toString());
            if (measured != null && Arrays.equals(measured, image.digest())) {
                return new Cached(fd, path, true, reused);
            }
            if (measured == null && Arrays.equals(InputFiles.read(fd, path, image.descriptor().length + 1L,
                    "descriptor"), image.descriptor())) {
                return new Cached(fd, path, false, reused);
            }
            if (attempt > 0) {
                throw new IOException(path + ": the cached descriptor does not hold what was written");
            }
            st.note("the cached descriptor " + path + " was damaged: writing it again");
            store.removeDescriptor(image.digest());
        }
    }

    private Mounter.Result mount(Path target, DriverImage image, Cached cached, MountOptions o, int userns,
            int verityCheck) throws MountException {
        String basedirs = basedirs(o.basedirs());
        String digest = FsVerity.hex(image.digest());
        int fs = -1;
        int mnt = -1;
        try {
            fs = st.sys.fsopen("composefs", sys_mount_h.FSOPEN_CLOEXEC);
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", "/proc/self/fd/" + cached.fd(), 0);
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "basedir", basedirs, 0);
            if (cached.sealed()) {
                st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "digest", digest, 0);
            }
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "verity_check", Integer.toString(verityCheck), 0);
            st.sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            mnt = st.sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, o.mountAttrs() | sys_mount_h.MOUNT_ATTR_RDONLY);
            if (userns >= 0) {
                st.sys.mountSetattr(mnt, "", fcntl_h.AT_EMPTY_PATH, sys_mount_h.MOUNT_ATTR_IDMAP, 0, 0, userns);
            }
            st.sys.moveMount(mnt, "", fcntl_h.AT_FDCWD, target.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
        } catch (SyscallException e) {
            st.note("the composefs driver refused the mount (" + KernelLog.attach(st.sys, fs, e).getMessage()
                    + "); falling back to overlayfs");
            return null;
        } finally {
            st.closeMount(mnt);
            st.closeMount(fs);
        }
        st.note("descriptor " + cached.path() + (cached.reused() ? " (cached, reused)" : " (written)") + ", "
                + image.descriptor().length + " bytes, " + image.inlineObjects().size() + " inline files as objects");
        st.note(cached.sealed() ? "digest=" + digest + " passed: the kernel checks the descriptor's fs-verity"
                : "the descriptor's filesystem has no fs-verity: digest= is not passed to the driver (it would "
                        + "refuse the mount); the image itself was checked in userspace where digest= asked for it");
        return new Mounter.Result("composefs kernel driver (verity_check=" + verityCheck + ")", st.notes());
    }

    /** basedir=A:B with a ':' inside a path escaped, as the driver takes it; a long list as /proc/self/fd/N paths. */
    private String basedirs(List<Path> stores) throws MountException {
        StringBuilder sb = new StringBuilder();
        for (Path b : stores) {
            sb.append(sb.isEmpty() ? "" : ":").append(b.toString().replace(":", "\\:"));
        }
        if (sb.length() <= OverlayMount.FSCONFIG_VALUE_MAX) {
            return sb.toString();
        }
        sb.setLength(0);
        for (Path b : stores) {
            sb.append(sb.isEmpty() ? "" : ":").append(st.viaFd(b));
        }
        return sb.toString();
    }

    /**
     * What the driver cannot show faithfully: an upper layer (it is read-only), and owners other
     * than the mounter's (the 2023 module sets every inode's owner to the mounting process's).
     */
    private String unsuitable(Directory tree, MountOptions o) {
        if (o.upperdir() != null) {
            return "it is read-only and upperdir= needs overlayfs";
        }
        int uid = st.sys.euid();
        int gid = st.sys.egid();
        String[] other = new String[1];
        DumpWriter.walk(tree, (path, node) -> {
            if (other[0] == null && !(node instanceof Hardlink)
                    && (node.meta().uid() != uid || node.meta().gid() != gid)) {
                other[0] = path + " is owned by " + Integer.toUnsignedString(node.meta().uid()) + ":"
                        + Integer.toUnsignedString(node.meta().gid());
            }
        });
        return other[0] == null ? null : "it shows every file as owned by the mounter (" + Integer.toUnsignedString(uid)
                + ":" + Integer.toUnsignedString(gid) + ", a bug of the 2023 module) and " + other[0];
    }

    /** verity/digest= demand 2 and refuse what cannot pass; tryverity gets 1 only where every check would pass. */
    private int verityCheck(Directory tree, MountOptions o) throws MountException {
        if (!o.requireVerity() && !o.tryVerity()) {
            return 0;
        }
        if (!VerityPolicy.enforce(st, kernel, tree, o, false)) {
            return 0;
        }
        return o.requireVerity() ? 2 : 1;
    }
}
