package dev.composefs.core.mount;

import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_DIRECTORY;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.repository.Payloads;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.RegularFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Whether fs-verity can be enforced for a mount: kernel support, digests in the image, sealed stores. */
final class VerityPolicy {
    private VerityPolicy() {}

    /**
     * Whether to enforce fs-verity, asked only when verity, digest= or tryverity is set. verity and
     * digest= refuse the mount when it cannot be enforced; tryverity notes why it is not.
     * overlay: whether the overlay's verity= option enforces it (else the driver's verity_check=).
     */
    static boolean enforce(MountState st, KernelProbe kernel, Directory tree, MountOptions o, boolean overlay)
            throws MountException {
        String problem = problem(kernel, tree, o, overlay);
        if (problem == null) {
            return true;
        }
        if (o.requireVerity()) {
            throw MountException.failed("verity requested but " + problem + "; nothing was mounted", null);
        }
        st.note((overlay ? "tryverity: not enforcing fs-verity because " : "tryverity: verity_check=0 because ")
                + problem);
        return false;
    }

    /** What stops enforcement, or null; overlay: whether the overlay's verity= option is what enforces it. */
    static String problem(KernelProbe kernel, Directory tree, MountOptions o, boolean overlay) {
        if (overlay && !kernel.overlayVerity()) {
            return "the kernel's overlayfs has no verity= option (Linux 6.6+)";
        }
        List<String> backed = new ArrayList<>();
        String[] bad = new String[1];
        DumpWriter.walk(tree, (path, node) -> {
            if (bad[0] == null && node instanceof RegularFile f && f.content() == null && f.size() > 0) {
                if (f.digest() == null) {
                    bad[0] = "the image has files without an fs-verity digest (" + path + ")";
                    return;
                }
                String rel = f.payload() == null ? null : Payloads.normalize(f.payload());
                if (rel == null) {
                    bad[0] = "the image has a file whose payload leaves the object store (" + path + ")";
                    return;
                }
                backed.add(rel);
            }
        });
        if (bad[0] != null) {
            return bad[0];
        }
        for (Path b : o.basedirs()) {
            String p = storeProblem(b, backed);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    /** One object present in a store tells whether that store is sealed. */
    private static String storeProblem(Path store, List<String> objects) {
        int dir;
        try {
            dir = fcntl_h.openat(fcntl_h.AT_FDCWD, store.toString(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            return "basedir " + store + " cannot be opened (" + e.errnoName() + ")";
        }
        try {
            for (String rel : objects) {
                int fd = Payloads.open(dir, rel);
                if (fd < 0) {
                    continue;
                }
                try {
                    linux_fsverity_h.measureVerity(fd, store.resolve(rel).toString());
                    return null;
                } catch (SyscallException e) {
                    if (e.is(Errno.EOPNOTSUPP) || e.is(Errno.ENOTTY)) {
                        return "the filesystem of basedir " + store + " has no fs-verity (FS_IOC_MEASURE_VERITY: "
                                + e.errnoName() + ")";
                    }
                    return "object " + store.resolve(rel) + " has no fs-verity enabled (FS_IOC_MEASURE_VERITY: "
                            + e.errnoName() + ")";
                } finally {
                    unistd_h.closeQuietly(fd);
                }
            }
            return null;
        } finally {
            unistd_h.closeQuietly(dir);
        }
    }
}
