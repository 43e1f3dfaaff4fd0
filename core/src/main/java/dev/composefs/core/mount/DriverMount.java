package dev.composefs.core.mount;

import static dev.composefs.bindings.sys_mount_h.FSCONFIG_CMD_CREATE;
import static dev.composefs.bindings.sys_mount_h.FSCONFIG_SET_STRING;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mman_h;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorWriter;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.TreeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * The kernel composefs driver: the verified image's tree as a descriptor in a sealed memfd,
 * mounted with basedir= (colon list), digest= (the descriptor's fs-verity digest) and
 * verity_check= (2 for verity/digest=, 1 for tryverity, else 0).
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
        String unsuitable = unsuitable(o);
        if (unsuitable != null) {
            st.note("the kernel registers a composefs filesystem, but " + unsuitable + "; using overlayfs");
            return null;
        }
        int verityCheck = verityCheck(tree, o);
        byte[] descriptor;
        try {
            descriptor = DescriptorWriter.write(tree);
        } catch (TreeException e) {
            st.note("the kernel registers a composefs filesystem, but this image has no descriptor form ("
                    + e.getMessage() + "); using overlayfs");
            return null;
        }
        int memfd = sealedMemfd("composefs-descriptor", descriptor);
        String digest = FsVerity.hex(FsVerity.of(descriptor));
        String basedirs = String.join(":", o.basedirs().stream().map(Path::toString).toList());
        int fs = -1;
        int mnt = -1;
        try {
            fs = st.sys.fsopen("composefs", sys_mount_h.FSOPEN_CLOEXEC);
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "source", "/proc/self/fd/" + memfd, 0);
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "basedir", basedirs, 0);
            st.sys.fsconfig(fs, FSCONFIG_SET_STRING, "digest", digest, 0);
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
        st.note("mounted by the kernel composefs driver: descriptor of " + descriptor.length + " bytes (fs-verity "
                + digest + ") in a sealed memfd, basedir=" + basedirs + ", verity_check=" + verityCheck);
        return new Mounter.Result("composefs kernel driver (descriptor in a sealed memfd, verity_check="
                + verityCheck + ")", st.notes());
    }

    private static String unsuitable(MountOptions o) {
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
    private int verityCheck(Directory tree, MountOptions o) throws MountException {
        boolean required = o.requireVerity();
        if (!required && !o.tryVerity()) {
            return 0;
        }
        String problem = VerityPolicy.problem(kernel, tree, o, false);
        if (problem == null) {
            return required ? 2 : 1;
        }
        if (required) {
            throw MountException.failed("verity requested but " + problem + "; nothing was mounted", null);
        }
        st.note("tryverity: verity_check=0 because " + problem);
        return 0;
    }

    /** bytes in a memfd sealed against any change, so what was checked is what the kernel reads. */
    private int sealedMemfd(String name, byte[] bytes) throws MountException {
        try {
            int memfd = st.keep(sys_mman_h.memfdCreate(name, sys_mman_h.MFD_CLOEXEC | sys_mman_h.MFD_ALLOW_SEALING));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(Math.max(1, bytes.length));
                MemorySegment.copy(bytes, 0, buf, ValueLayout.JAVA_BYTE, 0, bytes.length);
                unistd_h.writeFully(memfd, buf, bytes.length, name);
            }
            ImageCheck.seal(memfd);
            return memfd;
        } catch (IOException e) {
            throw MountException.failed("cannot hold the " + name + " in a sealed memfd: " + e.getMessage(), e);
        }
    }
}
