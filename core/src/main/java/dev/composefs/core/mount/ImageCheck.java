package dev.composefs.core.mount;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Native;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mman_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.erofs.Format;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.sign.ImageSignature;
import dev.composefs.core.sign.KeyMaterial;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;

/**
 * What is checked about the image before anything is mounted: it is a regular file (opened
 * without blocking, type checked on the fd), its digest when digest= asks (on exactly the bytes
 * that get mounted), and its tree where verity or the driver needs it.
 */
final class ImageCheck {
    private ImageCheck() {}

    static int open(MountState st, Path image) throws MountException {
        try {
            return st.keep(InputFiles.open(image, InputFiles.Kind.REGULAR, "image"));
        } catch (IOException e) {
            throw MountException.failed(e.getMessage(), e);
        }
    }

    /** The composefs header and EROFS superblock magic, for mount -f (which reads no more than that). */
    static void checkHeader(Path image, int fd) throws MountException {
        byte[] head;
        try (Arena arena = Arena.ofConfined()) {
            int want = Format.SUPER_OFFSET + Format.SUPER_SIZE;
            MemorySegment buf = arena.allocate(want);
            long n = 0;
            for (long k; n < want && (k = unistd_h.read(fd, buf.asSlice(n), image.toString())) > 0; ) {
                n += k;
            }
            head = Native.toBytes(buf, n);
            unistd_h.lseek(fd, 0, unistd_h.SEEK_SET, image.toString());
        } catch (SyscallException e) {
            throw MountException.failed(image + ": cannot read the image: " + e.getMessage(), e);
        }
        ByteBuffer bb = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (head.length < Format.SUPER_OFFSET + Format.SUPER_SIZE || bb.getInt(0) != Format.COMPOSEFS_MAGIC
                || bb.getInt(Format.SUPER_OFFSET + Format.SB_MAGIC) != Format.SUPER_MAGIC) {
            throw MountException.failed(image + ": not a composefs image (no composefs header and EROFS superblock)",
                    null);
        }
    }

    /**
     * digest= and signature=: both are checked on exactly the bytes that get mounted, which are
     * the image file where it has fs-verity (the kernel measures it, and it cannot change), else
     * a sealed copy nobody can change. Returns the fd to mount.
     */
    static int checkIdentity(MountState st, Path image, int imageFd, MountOptions o) throws MountException {
        if (o.digest() == null && o.signature() == null) {
            return imageFd;
        }
        try {
            int mountFd = imageFd;
            byte[] digest = FdDigester.measured(imageFd, image.toString());
            String how = "fs-verity of the image file";
            if (digest == null) {
                mountFd = sealedCopy(st, image, imageFd);
                try (FdDigester dg = new FdDigester()) {
                    digest = dg.digest(mountFd, 0, image.toString()).digest();
                }
                how = "sealed copy";
            }
            if (o.digest() != null) {
                compare(image, digest, o.digest(), how);
                st.note(how.equals("sealed copy")
                        ? "digest= checked on a sealed memfd copy (the image file has no fs-verity), mounting that copy"
                        : "digest= checked with FS_IOC_MEASURE_VERITY");
            }
            if (o.signature() != null) {
                checkSignature(st, image, mountFd, digest, o);
            }
            return mountFd;
        } catch (MountException e) {
            throw e;
        } catch (IOException e) {
            throw MountException.failed(image + ": cannot check digest= or signature=: " + e.getMessage(), e);
        }
    }

    /** signature=: a trusted certificate's key signed the fs-verity digest of the bytes in fd. */
    private static void checkSignature(MountState st, Path image, int fd, byte[] sha256, MountOptions o)
            throws MountException {
        String what = "signature=" + o.signature();
        try {
            byte[] sig = ImageSignature.read(o.signature());
            if (o.trust() == null && !Mounter.isDirectory(MountOptions.DEFAULT_TRUST)) {
                throw new IOException("no trust= given, and no " + MountOptions.DEFAULT_TRUST
                        + " directory of trusted certificates");
            }
            List<X509Certificate> trusted = KeyMaterial.trusted(o.trustOrDefault());
            FsVerity.Alg alg = ImageSignature.algorithm(sig);
            byte[] digest = sha256;
            if (alg != FsVerity.Alg.SHA256) {
                unistd_h.lseek(fd, 0, unistd_h.SEEK_SET, image.toString());
                digest = FsVerity.of(InputFiles.read(fd, image, InputFiles.MAX_IMAGE_SIZE, "image"), alg);
            }
            ImageSignature.Signer signer = ImageSignature.verify(sig, digest, trusted, false);
            st.note(what + ": signed by " + signer.subject() + " (trusted by " + o.trustOrDefault() + ")");
        } catch (IOException e) {
            throw MountException.failed(image + ": " + what + ": " + e.getMessage() + "; nothing was mounted", e);
        }
    }

    /** A copy of the image in a memfd sealed against every change, holes kept as holes; its fd. */
    private static int sealedCopy(MountState st, Path image, int imageFd) throws IOException {
        long size = sys_stat_h.statx(null, imageFd, sys_stat_h.STATX_SIZE).size();
        if (size > InputFiles.MAX_IMAGE_SIZE) {
            throw MountException.failed(image + ": image of " + size + " bytes is too large for digest= and signature= (images "
                    + "are metadata: at most " + InputFiles.MAX_IMAGE_SIZE + " bytes are copied into sealed "
                    + "memory; enable fs-verity on the image file to have the kernel measure it instead)", null);
        }
        int memfd = st.keep(sys_mman_h.memfdCreate("composefs-image", sys_mman_h.MFD_CLOEXEC
                | sys_mman_h.MFD_ALLOW_SEALING));
        copySparse(imageFd, memfd, size, image.toString());
        seal(memfd);
        unistd_h.lseek(memfd, 0, unistd_h.SEEK_SET, "memfd");
        return memfd;
    }

    /**
     * Copies the first size bytes of from into to, the data extents only: holes stay holes, so a
     * sparse file pins no memory for them.
     */
    private static void copySparse(int from, int to, long size, String what) throws SyscallException {
        unistd_h.ftruncate(to, size, "memfd");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1 << 16);
            long pos = 0;
            while (pos < size) {
                long data;
                long hole;
                try {
                    data = unistd_h.lseek(from, pos, unistd_h.SEEK_DATA, what);
                    hole = Math.min(size, unistd_h.lseek(from, data, unistd_h.SEEK_HOLE, what));
                } catch (SyscallException e) {
                    if (e.is(Errno.ENXIO)) {
                        break; // only a hole up to the end of the file
                    }
                    throw e;
                }
                if (data >= size) {
                    break;
                }
                unistd_h.lseek(from, data, unistd_h.SEEK_SET, what);
                unistd_h.lseek(to, data, unistd_h.SEEK_SET, "memfd");
                for (long left = hole - data; left > 0; ) {
                    long n = unistd_h.read(from, buf.asSlice(0, Math.min(left, buf.byteSize())), what);
                    if (n == 0) {
                        break; // the file shrank: the rest of the copy stays zero
                    }
                    unistd_h.writeFully(to, buf, n, "memfd");
                    left -= n;
                }
                pos = hole;
            }
        }
    }

    static void seal(int memfd) throws SyscallException {
        fcntl_h.fcntl(memfd, fcntl_h.F_ADD_SEALS, fcntl_h.F_SEAL_WRITE | fcntl_h.F_SEAL_GROW
                | fcntl_h.F_SEAL_SHRINK | fcntl_h.F_SEAL_SEAL);
    }

    private static void compare(Path image, byte[] actual, byte[] expected, String how) throws MountException {
        if (!Arrays.equals(actual, expected)) {
            throw MountException.failed(image + ": image has the wrong fs-verity digest " + FsVerity.hex(actual)
                    + " (" + how + "), digest= wants " + FsVerity.hex(expected) + "; nothing was mounted", null);
        }
    }

    /** The image's tree (reading it is what verifies it), bounded like every image read. */
    static Directory readTree(Path image, int fd) throws MountException {
        try {
            unistd_h.lseek(fd, 0, unistd_h.SEEK_SET, image.toString());
            return ErofsReader.read(InputFiles.read(fd, image, InputFiles.MAX_IMAGE_SIZE, "image"));
        } catch (IOException e) {
            throw MountException.failed(image + ": not a composefs image: " + e.getMessage(), e);
        }
    }
}
