package dev.composefs.core.fsverity;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.unistd_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * fs-verity digests of open files. One instance per thread: it owns a native read buffer (no
 * allocation per file), which libcrypto hashes where it is, and streams, so memory does not
 * grow with file size.
 */
public final class FdDigester implements AutoCloseable {
    private static final int BUFFER = 256 * 1024;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment native_ = arena.allocate(BUFFER, 4096);
    private final FsVerity verity = new FsVerity(FsVerity.Alg.SHA256, arena); // hashes native_ where it is
    private byte[] keep = new byte[0]; // the content kept for the caller, reused from file to file
    private boolean held;

    /** What was read: the digest, the byte count, and the content itself if it was at most keepUpTo bytes. */
    public record Result(byte[] digest, long size, byte[] content) {}

    /** Reads fd from its current offset to the end; content (a copy) if at most keepUpTo bytes. */
    public Result digest(int fd, int keepUpTo, String what) throws IOException {
        return digest(fd, Long.MAX_VALUE, keepUpTo, keepUpTo, what);
    }

    /**
     * Reads at most size bytes of fd (to its end if that comes first: the result's size says),
     * keeping up to holdUpTo bytes in this digester (see {@link #heldBytes}) and returning a copy
     * as content only if there are at most copyUpTo. A scan passes the size statx gave, as
     * fsverity-utils reads its st_size: a file read in full needs no further read to see its end
     * (one syscall of six per file), and the digest is of exactly the bytes the image describes.
     */
    public Result digest(int fd, long size, int copyUpTo, int holdUpTo, String what) throws IOException {
        int keepUpTo = Math.max(copyUpTo, holdUpTo);
        FsVerity v = verity;
        v.reset();
        if (keep.length < Math.min(keepUpTo, BUFFER)) {
            keep = new byte[Math.min(keepUpTo, BUFFER)];
        }
        long total = 0;
        for (long n; total < size && (n = unistd_h.read(fd, native_, Math.min(size - total, BUFFER), what)) > 0; ) {
            if (total < keepUpTo) {
                int k = (int) Math.min(n, keepUpTo - total);
                if (total + k > keep.length) {
                    keep = Arrays.copyOf(keep, (int) Math.min(keepUpTo, Math.max(total + k, 2L * keep.length)));
                }
                MemorySegment.copy(native_, ValueLayout.JAVA_BYTE, 0, keep, (int) total, k);
            }
            v.update(native_, 0, n);
            total += n;
        }
        held = total <= keepUpTo;
        return new Result(v.digest(), total, total <= copyUpTo ? Arrays.copyOf(keep, (int) total) : null);
    }

    /**
     * The bytes the last digest held, its whole file in the first Result.size() bytes (valid
     * until the next digest), or null if the file was larger than asked.
     */
    public byte[] heldBytes() {
        return held ? keep : null;
    }

    /**
     * The digest the kernel enforces for fd (FS_IOC_MEASURE_VERITY), or null when the file has no
     * fs-verity or the filesystem cannot have it. A non-SHA-256 verity file is an error: composefs
     * digests are SHA-256, so such a file can never match.
     */
    public static byte[] measured(int fd, String what) throws IOException {
        try {
            linux_fsverity_h.Measurement m = linux_fsverity_h.measureVerity(fd, what);
            if (m.algorithm() != linux_fsverity_h.FS_VERITY_HASH_ALG_SHA256 || m.digest().length != 32) {
                throw new IOException(what + ": fs-verity uses hash algorithm " + m.algorithm()
                        + ", composefs needs SHA-256");
            }
            return m.digest();
        } catch (SyscallException e) {
            if (e.is(Errno.ENODATA) || e.is(Errno.EOPNOTSUPP) || e.is(Errno.ENOTTY) || e.is(Errno.EINVAL)) {
                return null;
            }
            throw e;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
