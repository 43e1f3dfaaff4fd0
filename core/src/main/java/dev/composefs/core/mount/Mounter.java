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
import dev.composefs.bindings.sched_h;
import dev.composefs.bindings.sys_mman_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorWriter;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.TreeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Mounts a composefs image: EROFS (file-backed, else a read-only autoclear loop device) as the
 * metadata layer under overlayfs with the object stores as data-only layers. Strategies, in
 * order: (1) the kernel composefs driver where the kernel registers one (the image converted to
 * the driver's descriptor; any refusal falls through to overlayfs with the reason), (2) the
 * new mount API with lowerdir+/datadir+, (3) the legacy option string with "::" data-only
 * layers, (4) before data-only layers (Linux < 6.5): the stores as ordinary lower layers under
 * the image, whose opaque root and 00..ff whiteouts hide them, so the tree is exactly the image's.
 * Everything set up is undone on failure; after success only the overlay mount remains, and
 * umount releases the rest (detached EROFS mount, autoclear loop device).
 */
public final class Mounter {
    private final KernelProbe kernel;
    private final Consumer<String> log;
    private final MountCalls sys;
    /** fds of this process's own files (image, memfds, namespaces), closed after each mount. */
    private final List<Integer> fds = new ArrayList<>();
    /** fds from fsmount: the detached EROFS mount must stay open until the overlay holds it. */
    private final List<Integer> mountFds = new ArrayList<>();

    /** Which path was taken and why, for -v. */
    public record Result(String strategy, List<String> notes) {
        public Result {
            notes = List.copyOf(notes);
        }
    }

    private final List<String> notes = new ArrayList<>();

    public Mounter(KernelProbe kernel, Consumer<String> log) {
        this(kernel, log, MountCalls.NATIVE);
    }

    /** With another syscall layer (tests record the calls a kernel would see). */
    public Mounter(KernelProbe kernel, Consumer<String> log, MountCalls sys) {
        this.kernel = kernel;
        this.log = log;
        this.sys = sys;
    }

    private void note(String s) {
        notes.add(s);
        log.accept(s);
    }

    public Result mount(Path image, Path target, MountOptions o) throws MountException {
        notes.clear(); // a Mounter may mount again: each Result carries only its own notes
        try {
            // absolute paths: overlayfs shows them in mountinfo, where relative ones would mislead
            return doMount(image.toAbsolutePath(), target.toAbsolutePath(), absolute(o));
        } finally {
            mountFds.forEach(sys::close);
            mountFds.clear();
            fds.forEach(unistd_h::closeQuietly);
            fds.clear();
        }
    }

    private static MountOptions absolute(MountOptions o) {
        return new MountOptions(o.basedirs().stream().map(Path::toAbsolutePath).toList(), o.digest(), o.verity(),
                o.tryVerity(), o.idmap(), o.uidmap(), o.gidmap(),
                o.upperdir() == null ? null : o.upperdir().toAbsolutePath(),
                o.workdir() == null ? null : o.workdir().toAbsolutePath(), o.readOnly(), o.mountAttrs());
    }

    private int keep(int fd) {
        fds.add(fd);
        return fd;
    }

    private int keepMount(int fd) {
        mountFds.add(fd);
        return fd;
    }

    private void closeMount(int fd) {
        if (fd >= 0) {
            sys.close(fd);
        }
    }

    private Result doMount(Path image, Path target, MountOptions o) throws MountException {
        note(kernel.describe());
        if (!Files.isDirectory(target)) {
            throw MountException.failed(target + ": mount point does not exist or is not a directory", null);
        }
        for (Path b : o.basedirs()) {
            if (!Files.isDirectory(b)) {
                throw MountException.failed("basedir " + b + ": not a directory", null);
            }
        }
        int imageFd;
        try {
            imageFd = keep(fcntl_h.openat(fcntl_h.AT_FDCWD, image.toString(), O_RDONLY | O_CLOEXEC, 0));
        } catch (SyscallException e) {
            throw MountException.failed(image + ": cannot open image: " + e.getMessage(), e);
        }
        if (o.digest() != null) {
            imageFd = checkDigest(image, imageFd, o.digest());
        }
        int userns = o.idmap() != null ? openUserns(o.idmap()) : !o.uidmap().isEmpty() ? makeUserns(o) : -1;
        Directory tree = null;
        if (kernel.composefsDriver()) {
            tree = readTree(image, imageFd); // reading it is what verifies it
            Result viaDriver = viaDriver(target, tree, o, userns);
            if (viaDriver != null) {
                return viaDriver;
            }
        }
        boolean verity = o.requireVerity();
        if (verity || o.tryVerity()) {
            if (tree == null) {
                tree = readTree(image, imageFd);
            }
            verity = verityUsable(tree, o, verity);
        }
        int erofs = mountErofs(image, imageFd, userns);
        if (kernel.detachedLayers()) {
            return overlay(image, target, "/proc/self/fd/" + erofs, o, verity);
        }
        // Before 6.15 overlayfs cannot take a detached mount as a layer ("failed to clone
        // lowerpath"): attach EROFS to a private staging directory for the overlay mount, then
        // detach it again; the overlay keeps its own reference.
        Path staging = stage(erofs);
        try {
            return overlay(image, target, staging.toString(), o, verity);
        } finally {
            unstage(staging);
        }
    }

    /**
     * (1) The kernel composefs driver: the verified image's tree as a descriptor in a sealed
     * memfd, mounted with basedir= (colon list), digest= (the descriptor's fs-verity digest) and
     * verity_check= (2 for verity/digest=, 1 for tryverity, else 0). Returns null, having said
     * why, where the overlay path has to be taken instead.
     */
    private Result viaDriver(Path target, Directory tree, MountOptions o, int userns) throws MountException {
        String unsuitable = driverUnsuitable(o);
        if (unsuitable != null) {
            note("the kernel registers a composefs filesystem, but " + unsuitable + "; using overlayfs");
            return null;
        }
        int verityCheck = driverVerityCheck(tree, o);
        byte[] descriptor;
        try {
            descriptor = DescriptorWriter.write(tree);
        } catch (TreeException e) {
            note("the kernel registers a composefs filesystem, but this image has no descriptor form ("
                    + e.getMessage() + "); using overlayfs");
            return null;
        }
        int memfd = sealedMemfd("composefs-descriptor", descriptor);
        String digest = FsVerity.hex(FsVerity.of(descriptor));
        String basedirs = String.join(":", o.basedirs().stream().map(Path::toString).toList());
        int fs = -1;
        int mnt = -1;
        try {
            fs = sys.fsopen("composefs", sys_mount_h.FSOPEN_CLOEXEC);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", "/proc/self/fd/" + memfd, 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "basedir", basedirs, 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "digest", digest, 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "verity_check", Integer.toString(verityCheck), 0);
            sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            mnt = sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, o.mountAttrs() | sys_mount_h.MOUNT_ATTR_RDONLY);
            if (userns >= 0) {
                sys.mountSetattr(mnt, "", fcntl_h.AT_EMPTY_PATH, sys_mount_h.MOUNT_ATTR_IDMAP, 0, 0, userns);
            }
            sys.moveMount(mnt, "", fcntl_h.AT_FDCWD, target.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
        } catch (SyscallException e) {
            note("the composefs driver refused the mount (" + e.getMessage() + "); falling back to overlayfs");
            return null;
        } finally {
            closeMount(mnt);
            closeMount(fs);
        }
        note("mounted by the kernel composefs driver: descriptor of " + descriptor.length + " bytes (fs-verity "
                + digest + ") in a sealed memfd, basedir=" + basedirs + ", verity_check=" + verityCheck);
        return new Result("composefs kernel driver (descriptor in a sealed memfd, verity_check=" + verityCheck + ")",
                notes);
    }

    private static String driverUnsuitable(MountOptions o) {
        if (o.upperdir() != null) {
            return "it is read-only and upperdir= needs overlayfs";
        }
        for (Path b : o.basedirs()) {
            if (b.toString().indexOf(':') >= 0) {
                return "basedir " + b + " contains ':', which the driver's colon-separated basedir= cannot carry";
            }
        }
        return null;
    }

    /** verity/digest= demand 2 and refuse what cannot pass; tryverity gets 1 only where every check would pass. */
    private int driverVerityCheck(Directory tree, MountOptions o) throws MountException {
        boolean required = o.requireVerity();
        if (!required && !o.tryVerity()) {
            return 0;
        }
        String problem = verityProblem(tree, o, false);
        if (problem == null) {
            return required ? 2 : 1;
        }
        if (required) {
            throw MountException.failed("verity requested but " + problem + "; nothing was mounted", null);
        }
        note("tryverity: verity_check=0 because " + problem);
        return 0;
    }

    /** bytes in a memfd sealed against any change, so what was checked is what the kernel reads. */
    private int sealedMemfd(String name, byte[] bytes) throws MountException {
        try {
            int memfd = keep(sys_mman_h.memfdCreate(name, sys_mman_h.MFD_CLOEXEC | sys_mman_h.MFD_ALLOW_SEALING));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(Math.max(1, bytes.length));
                MemorySegment.copy(bytes, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
                unistd_h.writeFully(memfd, buf, bytes.length, name);
            }
            seal(memfd);
            return memfd;
        } catch (IOException e) {
            throw MountException.failed("cannot hold the " + name + " in a sealed memfd: " + e.getMessage(), e);
        }
    }

    private static void seal(int memfd) throws SyscallException {
        fcntl_h.fcntl(memfd, fcntl_h.F_ADD_SEALS, fcntl_h.F_SEAL_WRITE | fcntl_h.F_SEAL_GROW
                | fcntl_h.F_SEAL_SHRINK | fcntl_h.F_SEAL_SEAL);
    }

    private Path stage(int erofs) throws MountException {
        Path dir = null;
        try {
            Path parent = Files.isDirectory(Path.of("/run")) && Files.isWritable(Path.of("/run")) ? Path.of("/run")
                    : Path.of(System.getProperty("java.io.tmpdir"));
            dir = Files.createTempDirectory(parent, ".composefs-");
            sys.moveMount(erofs, "", fcntl_h.AT_FDCWD, dir.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
            note("EROFS attached at " + dir + " while the overlay is set up (kernel before 6.15 takes no detached layers)");
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

    private void unstage(Path dir) throws MountException {
        try {
            sys.umount2(dir.toString(), sys_mount_h.MNT_DETACH);
            Files.delete(dir);
        } catch (IOException e) {
            throw MountException.failed("cannot remove the EROFS staging mount " + dir + ": " + e.getMessage(), e);
        }
    }

    private Result overlay(Path image, Path target, String lower, MountOptions o, boolean verity) throws MountException {
        if (kernel.layerAppendKeys()) {
            try {
                overlayNewApi(image, target, lower, o, verity);
                return new Result("overlay (new mount API, lowerdir+/datadir+)", notes);
            } catch (SyscallException e) {
                note("new mount API overlay failed (" + e.getMessage() + "); trying the legacy option string");
            }
        }
        if (!kernel.dataOnlyLayers()) {
            note("no overlayfs data-only layers before Linux 6.5: the stores become ordinary lower layers, "
                    + "hidden by the image's opaque root and 00..ff whiteouts");
        }
        String sep = kernel.dataOnlyLayers() ? "::" : ":";
        StringBuilder opts = new StringBuilder("metacopy=on,redirect_dir=on,lowerdir=").append(escape(lower));
        for (Path b : o.basedirs()) {
            opts.append(sep).append(escape(b.toString()));
        }
        if (o.upperdir() != null) {
            opts.append(",upperdir=").append(escape(o.upperdir().toString()));
            opts.append(",workdir=").append(escape(o.workdir().toString()));
        }
        if (verity) {
            opts.append(",verity=require");
        }
        try {
            sys.mount(image.toString(), target.toString(), "overlay", legacyFlags(o), opts.toString());
        } catch (SyscallException e) {
            throw MountException.failed("cannot mount overlay at " + target + ": " + e.getMessage()
                    + (kernel.dataOnlyLayers() ? "" : " (this kernel has no overlayfs data-only layers)"), e);
        }
        return new Result(kernel.dataOnlyLayers() ? "overlay (legacy option string, '::' data-only layers)"
                : "overlay (legacy option string, stores as lower layers: kernel before 6.5)", notes);
    }

    /** digest=: the kernel's measurement if the image has fs-verity, else a sealed copy nobody can change. */
    private int checkDigest(Path image, int imageFd, byte[] expected) throws MountException {
        try {
            byte[] measured = FdDigester.measured(imageFd, image.toString());
            if (measured != null) {
                compare(image, measured, expected, "fs-verity of the image file");
                note("digest= checked with FS_IOC_MEASURE_VERITY");
                return imageFd;
            }
            int memfd = keep(sys_mman_h.memfdCreate("composefs-image", sys_mman_h.MFD_CLOEXEC
                    | sys_mman_h.MFD_ALLOW_SEALING));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(1 << 16);
                for (long n; (n = unistd_h.read(imageFd, buf, image.toString())) > 0; ) {
                    unistd_h.writeFully(memfd, buf, n, "memfd");
                }
            }
            seal(memfd);
            unistd_h.lseek(memfd, 0, unistd_h.SEEK_SET, "memfd");
            byte[] actual;
            try (FdDigester dg = new FdDigester()) {
                actual = dg.digest(memfd, 0, image.toString()).digest();
            }
            compare(image, actual, expected, "sealed copy");
            note("digest= checked on a sealed memfd copy (the image file has no fs-verity), mounting that copy");
            return memfd;
        } catch (IOException e) {
            if (e instanceof MountException m) {
                throw m;
            }
            throw MountException.failed(image + ": cannot check digest=: " + e.getMessage(), e);
        }
    }

    private static void compare(Path image, byte[] actual, byte[] expected, String how) throws MountException {
        if (!Arrays.equals(actual, expected)) {
            throw MountException.failed(image + ": image has the wrong fs-verity digest " + FsVerity.hex(actual)
                    + " (" + how + "), digest= wants " + FsVerity.hex(expected) + "; nothing was mounted", null);
        }
    }

    private Directory readTree(Path image, int fd) throws MountException {
        try {
            return ErofsReader.read(Files.readAllBytes(Path.of("/proc/self/fd/" + fd)));
        } catch (IOException e) {
            throw MountException.failed(image + ": not a composefs image: " + e.getMessage(), e);
        }
    }

    /**
     * verity (and digest=): refused unless the kernel can enforce it, every backed file carries a
     * digest and the stores hold fs-verity objects. tryverity: used only when all of that holds.
     */
    private boolean verityUsable(Directory tree, MountOptions o, boolean required) throws MountException {
        String problem = verityProblem(tree, o, true);
        if (problem == null) {
            note("fs-verity enforced: overlay verity=require");
            return true;
        }
        if (required) {
            throw MountException.failed("verity requested but " + problem + "; nothing was mounted", null);
        }
        note("tryverity: not enforcing fs-verity because " + problem);
        return false;
    }

    private String verityProblem(Directory tree, MountOptions o, boolean overlay) {
        if (overlay && !kernel.overlayVerity()) {
            return "the kernel's overlayfs has no verity= option (Linux 6.6+)";
        }
        List<RegularFile> backed = new ArrayList<>();
        List<String> undigested = new ArrayList<>();
        DumpWriter.walk(tree, (path, node) -> {
            if (node instanceof RegularFile f && f.content() == null && f.size() > 0) {
                backed.add(f);
                if (f.digest() == null) {
                    undigested.add(path);
                }
            }
        });
        if (!undigested.isEmpty()) {
            return "the image has files without an fs-verity digest (" + undigested.get(0) + ")";
        }
        for (Path b : o.basedirs()) {
            for (RegularFile f : backed) {
                Path obj = b.resolve(f.payload());
                if (!Files.isRegularFile(obj)) {
                    continue;
                }
                try {
                    int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, obj.toString(), O_RDONLY | O_CLOEXEC, 0);
                    try {
                        dev.composefs.bindings.linux_fsverity_h.measureVerity(fd, obj.toString());
                    } finally {
                        unistd_h.closeQuietly(fd);
                    }
                } catch (SyscallException e) {
                    if (e.is(Errno.EOPNOTSUPP) || e.is(Errno.ENOTTY)) {
                        return "the filesystem of basedir " + b + " has no fs-verity (FS_IOC_MEASURE_VERITY: "
                                + e.errnoName() + ")";
                    }
                    return "object " + obj + " has no fs-verity enabled (FS_IOC_MEASURE_VERITY: " + e.errnoName() + ")";
                }
                break; // one object per store tells whether the store is sealed
            }
        }
        return null;
    }

    private int openUserns(Path ns) throws MountException {
        try {
            return keep(fcntl_h.openat(fcntl_h.AT_FDCWD, ns.toString(), O_RDONLY | O_CLOEXEC, 0));
        } catch (SyscallException e) {
            throw MountException.failed("idmap=" + ns + ": cannot open user namespace: " + e.getMessage(), e);
        }
    }

    /** uidmap=/gidmap=: a user namespace made for this mount, held by an fd; its parked process is gone at once. */
    private int makeUserns(MountOptions o) throws MountException {
        int pid;
        try {
            pid = sched_h.cloneParked(sched_h.CLONE_NEWUSER);
        } catch (SyscallException e) {
            throw MountException.failed("cannot create a user namespace for uidmap=: " + e.getMessage(), e);
        }
        try {
            Files.writeString(Path.of("/proc/" + pid + "/uid_map"), maps(o.uidmap()));
            Files.writeString(Path.of("/proc/" + pid + "/gid_map"), maps(o.gidmap()));
            return keep(fcntl_h.openat(fcntl_h.AT_FDCWD, "/proc/" + pid + "/ns/user", O_RDONLY | O_CLOEXEC, 0));
        } catch (IOException e) {
            throw MountException.failed("cannot set up the uidmap=/gidmap= user namespace: " + e.getMessage(), e);
        } finally {
            try {
                sched_h.killAndReap(pid);
            } catch (SyscallException ignored) {
                // already gone: nothing is left behind either way
            }
        }
    }

    private static String maps(List<MountOptions.IdMapping> m) {
        StringBuilder sb = new StringBuilder();
        for (MountOptions.IdMapping x : m) {
            sb.append(x.inside()).append(' ').append(x.outside()).append(' ').append(x.count()).append('\n');
        }
        return sb.toString();
    }

    /** The image as a detached read-only EROFS mount (idmapped if asked); returns its fd. */
    private int mountErofs(Path image, int imageFd, int userns) throws MountException {
        int mnt = -1;
        if (kernel.erofsFileBacked()) {
            try {
                mnt = erofsFrom("/proc/self/fd/" + imageFd);
                note("EROFS mounted from the image file (file-backed)");
            } catch (SyscallException e) {
                note("file-backed EROFS failed (" + e.getMessage() + "); using a loop device");
            }
        }
        if (mnt < 0) {
            mnt = erofsOnLoop(image, imageFd);
        }
        if (userns >= 0) {
            try {
                sys.mountSetattr(mnt, "", fcntl_h.AT_EMPTY_PATH, sys_mount_h.MOUNT_ATTR_IDMAP, 0, 0, userns);
                note("EROFS layer idmapped");
            } catch (SyscallException e) {
                throw MountException.failed("cannot idmap the image mount: " + e.getMessage(), e);
            }
        }
        return mnt;
    }

    private int erofsFrom(String source) throws SyscallException {
        int fs = sys.fsopen("erofs", sys_mount_h.FSOPEN_CLOEXEC);
        try {
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0);
            sys.fsconfig(fs, FSCONFIG_SET_FLAG, "ro", null, 0);
            sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            return keepMount(sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, sys_mount_h.MOUNT_ATTR_RDONLY));
        } finally {
            closeMount(fs);
        }
    }

    /** LOOP_CONFIGURE read-only with autoclear: the device goes away with the last EROFS reference. */
    private int erofsOnLoop(Path image, int imageFd) throws MountException {
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
                int mnt = erofsFrom(dev);
                note("EROFS mounted from " + dev + " (read-only, autoclear)");
                return mnt;
            } catch (SyscallException e) {
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
                note(dev + " was missing (a container's /dev?): created it");
            } catch (SyscallException m) {
                if (!m.is(Errno.EEXIST)) {
                    throw m;
                }
            }
            return fcntl_h.openat(fcntl_h.AT_FDCWD, dev, O_RDONLY | O_CLOEXEC, 0);
        }
    }

    private void overlayNewApi(Path image, Path target, String lower, MountOptions o, boolean verity)
            throws SyscallException {
        int fs = sys.fsopen("overlay", sys_mount_h.FSOPEN_CLOEXEC);
        int mnt = -1;
        try {
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", image.toString(), 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "metacopy", "on", 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "redirect_dir", "on", 0);
            sys.fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lower, 0);
            for (Path b : o.basedirs()) {
                sys.fsconfig(fs, FSCONFIG_SET_STRING, "datadir+", b.toString(), 0);
            }
            if (o.upperdir() != null) {
                sys.fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", o.upperdir().toString(), 0);
                sys.fsconfig(fs, FSCONFIG_SET_STRING, "workdir", o.workdir().toString(), 0);
            }
            if (verity) {
                sys.fsconfig(fs, FSCONFIG_SET_STRING, "verity", "require", 0);
            }
            sys.fsconfig(fs, FSCONFIG_CMD_CREATE, null, null, 0);
            long attrs = o.mountAttrs() | (readOnly(o) ? sys_mount_h.MOUNT_ATTR_RDONLY : 0);
            mnt = sys.fsmount(fs, sys_mount_h.FSMOUNT_CLOEXEC, attrs);
            sys.moveMount(mnt, "", fcntl_h.AT_FDCWD, target.toString(), sys_mount_h.MOVE_MOUNT_F_EMPTY_PATH);
        } finally {
            closeMount(mnt);
            closeMount(fs);
        }
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
}
