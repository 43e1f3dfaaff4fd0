package dev.composefs.core.mount;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.core.tree.Directory;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * Mounts a composefs image: EROFS (file-backed, else a read-only autoclear loop device) as the
 * metadata layer under overlayfs with the object stores as data-only layers. Strategies, in
 * order: (1) the kernel composefs driver where the kernel registers one ({@link DriverMount};
 * any refusal falls through to overlayfs with the reason), (2) the new mount API with
 * lowerdir+/datadir+, (3) the legacy option string with "::" data-only layers, (4) before
 * data-only layers (Linux < 6.5): the stores as ordinary lower layers under the image, whose
 * opaque root and 00..ff whiteouts hide them ({@link OverlayMount}). The parts: {@link ImageCheck}
 * (open, digest=, tree), {@link UserNamespaces} (idmap=, uidmap=), {@link ErofsLayer},
 * {@link VerityPolicy}. Everything set up is undone on failure; after success only the overlay
 * mount remains, and umount releases the rest (detached EROFS mount, autoclear loop device).
 */
public final class Mounter {
    private final KernelProbe kernel;
    private final Consumer<String> log;
    private final MountCalls sys;

    /** Which path was taken and why, for -v. */
    public record Result(String strategy, List<String> notes) {
        public Result {
            notes = List.copyOf(notes);
        }
    }

    public Mounter(KernelProbe kernel, Consumer<String> log) {
        this(kernel, log, MountCalls.NATIVE);
    }

    /** With another syscall layer (tests record the calls a kernel would see). */
    public Mounter(KernelProbe kernel, Consumer<String> log, MountCalls sys) {
        this.kernel = kernel;
        this.log = log;
        this.sys = sys;
    }

    public Result mount(Path image, Path target, MountOptions o) throws MountException {
        try (MountState st = new MountState(sys, log)) {
            // absolute paths: overlayfs shows them in mountinfo, where relative ones would mislead
            return doMount(st, image.toAbsolutePath(), target.toAbsolutePath(), o.absolute());
        }
    }

    /**
     * Everything {@link #mount} checks before its first mount call, for mount -f: target, stores,
     * upper and work directories, the image (type, header, digest=, signature=, tree where verity
     * needs it) and idmap=. Mounts nothing and leaves nothing behind.
     */
    public void check(Path image, Path target, MountOptions o) throws MountException {
        try (MountState st = new MountState(sys, log)) {
            o = o.absolute();
            checkPaths(target, o);
            int imageFd = ImageCheck.open(st, image);
            ImageCheck.checkHeader(image, imageFd);
            imageFd = ImageCheck.checkIdentity(st, image, imageFd, o);
            if (o.idmap() != null) {
                UserNamespaces.open(st, o.idmap());
            }
            Directory tree = ImageCheck.readTree(image, imageFd);
            if (o.requireVerity()) {
                String problem = VerityPolicy.problem(kernel, tree, o, !kernel.composefsDriver());
                if (problem != null) {
                    throw MountException.failed("verity requested but " + problem, null);
                }
            }
        }
    }

    private static void checkPaths(Path target, MountOptions o) throws MountException {
        if (!isDirectory(target)) {
            throw MountException.failed(target + ": mount point does not exist or is not a directory", null);
        }
        for (Path b : o.basedirs()) {
            if (!isDirectory(b)) {
                throw MountException.failed("basedir " + b + ": not a directory", null);
            }
        }
        if (o.upperdir() != null) {
            for (Path d : List.of(o.upperdir(), o.workdir())) {
                if (!isDirectory(d)) {
                    throw MountException.failed((d == o.upperdir() ? "upperdir " : "workdir ") + d
                            + ": not a directory", null);
                }
            }
            OverlayMount.checkUpperAndWork(o.upperdir(), o.workdir());
        }
    }

    /** Whether p is a directory, symlinks followed: a statx, not java.nio.file's 25 classes on a mount's path. */
    static boolean isDirectory(Path p) {
        try {
            return sys_stat_h.statx(fcntl_h.AT_FDCWD, p.toString(), 0, sys_stat_h.STATX_TYPE).type() == sys_stat_h.S_IFDIR;
        } catch (SyscallException e) {
            return false;
        }
    }

    private Result doMount(MountState st, Path image, Path target, MountOptions o) throws MountException {
        st.note(kernel.describe());
        checkPaths(target, o);
        int imageFd = ImageCheck.checkIdentity(st, image, ImageCheck.open(st, image), o);
        int userns = o.idmap() != null ? UserNamespaces.open(st, o.idmap())
                : !o.uidmap().isEmpty() ? UserNamespaces.make(st, o) : -1;
        Directory tree = null;
        if (kernel.composefsDriver()) {
            tree = ImageCheck.readTree(image, imageFd);
            Result viaDriver = new DriverMount(st, kernel).mount(target, tree, o, userns);
            if (viaDriver != null) {
                return viaDriver;
            }
        }
        boolean verity = o.requireVerity();
        if (verity || o.tryVerity()) {
            if (tree == null) {
                tree = ImageCheck.readTree(image, imageFd);
            }
            verity = VerityPolicy.enforce(st, kernel, tree, o, true);
            if (verity) {
                st.note("fs-verity enforced: overlay verity=require");
            }
        }
        ErofsLayer erofsLayer = new ErofsLayer(st, kernel);
        int erofs = erofsLayer.mount(image, imageFd, userns);
        OverlayMount overlay = new OverlayMount(st, kernel);
        if (kernel.detachedLayers()) {
            return overlay.mount(image, target, "/proc/self/fd/" + erofs, o, verity);
        }
        Path staging = erofsLayer.stage(erofs);
        try {
            return overlay.mount(image, target, staging.toString(), o, verity);
        } finally {
            erofsLayer.unstage(staging);
        }
    }
}
