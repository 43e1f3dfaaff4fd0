package dev.composefs.core.fsverity;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.util.Parallel;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * fs-verity digests of open files. One instance per thread: it owns a native read buffer (no
 * allocation per file), which libcrypto hashes where it is, and streams, so memory does not
 * grow with file size; and the thread's {@link Scratch} for its calls, which a scan's worker
 * uses for the rest of its calls too.
 */
public final class FdDigester implements AutoCloseable {
    /** The largest file that a digest can leave whole in its buffer, if asked to (see {@link #held}). */
    public static final int HOLD_MAX = 1 << 20;
    private static final int BUFFER = 256 * 1024;

    private final Arena arena = Arena.ofConfined();
    private final Scratch scratch = Scratch.open();
    // The read buffer, made 1 MiB the first time a file that large must be held: a native
    // allocation is zeroed, so every page of it counts in RSS from the start.
    private MemorySegment native_ = arena.allocate(BUFFER, 4096);
    private final FsVerity verity = new FsVerity(FsVerity.Alg.SHA256, arena); // hashes native_ where it is
    private long heldSize = -1;

    /** What was read: the digest, the byte count, and the content itself if it was at most copyUpTo bytes. */
    public record Result(byte[] digest, long size, byte[] content) {}

    /** Reads fd from its current offset to the end; content (a copy) if at most copyUpTo bytes. */
    public Result digest(int fd, int copyUpTo, String what) throws IOException {
        return digest(fd, Long.MAX_VALUE, copyUpTo, false, what);
    }

    /**
     * Reads at most size bytes of fd (to its end if that comes first: the result's size says),
     * returning a copy as content only if there are at most copyUpTo. A scan passes the size
     * statx gave, as fsverity-utils reads its st_size: a file read in full needs no further read
     * to see its end (one syscall of six per file), and the digest is of exactly the bytes the
     * image describes. The file is read into the buffer front to back; with hold, one of at most
     * {@link #HOLD_MAX} bytes is afterwards whole in it ({@link #held}).
     */
    public Result digest(int fd, long size, int copyUpTo, boolean hold, String what) throws IOException {
        FsVerity v = verity;
        v.reset();
        if (hold && size > native_.byteSize() && native_.byteSize() < HOLD_MAX) {
            native_ = arena.allocate(HOLD_MAX, 4096); // the small one stays in the arena: 256 KiB, once
        }
        long capacity = native_.byteSize();
        long total = 0;
        long fill = 0; // bytes in the buffer: it starts over from its front when full
        for (long n; total < size; total += n, fill += n) {
            if (fill == capacity) {
                fill = 0;
            }
            n = unistd_h.read(scratch, fd, native_, fill, Math.min(size - total, capacity - fill), what);
            if (n == 0) {
                break;
            }
            v.update(native_, fill, n);
        }
        heldSize = total <= capacity ? total : -1;
        byte[] content = null;
        if (total <= copyUpTo) {
            content = new byte[(int) total];
            MemorySegment.copy(native_, ValueLayout.JAVA_BYTE, 0, content, 0, content.length);
        }
        return new Result(v.digest(), total, content);
    }

    /**
     * Files from this size on are hashed in parts that idle workers share (see {@link
     * #digestShared}): sharing a smaller file costs more in coordination than the parts save
     * (bench/ingest measures the JDK's tree, whose few large files sit near this bound).
     */
    private static final long SHARED_MIN = 32L << 20;

    /** Whether a file of size bytes is hashed through {@link #digestShared}: with sharing (not null), from SHARED_MIN on. */
    public static boolean sharesHashing(Parallel.Sharing<FdDigester> sharing, long size) {
        return sharing != null && size >= SHARED_MIN;
    }

    /**
     * The digest of the size bytes of fd, like {@link #digest(int, long, int, boolean, String)},
     * its whole spans hashed in parts that the other workers of sharing's run take while they
     * have no file of their own: one large file at the end of a scan keeps every core busy
     * instead of one. The rest, under one span, is read here. Reads by position: fd's offset
     * is left alone. The result's size is short if the file ended early.
     */
    public Result digestShared(int fd, long size, Parallel.Sharing<FdDigester> sharing, String what) throws IOException {
        FsVerity v = verity;
        long span = v.span();
        long spans = size / span;
        heldSize = -1; // the buffer is overwritten
        SpanHashing job = new SpanHashing(fd, size, span, FsVerity.DIGEST_SIZE, spans, what);
        sharing.offer(job);
        try {
            while (job.runPart(this)) {
                // this thread hashes parts too, until every part is taken
            }
            job.awaitParts();
        } finally {
            sharing.withdraw(job);
        }
        v.reset();
        v.addSpans(job.hashes(), spans);
        long total = spans * span;
        for (long n; total < size; total += n) {
            n = unistd_h.pread(scratch, fd, native_, 0, Math.min(size - total, native_.byteSize()), total, what);
            if (n == 0) {
                break;
            }
            v.update(native_, 0, n);
        }
        return new Result(v.digest(), total, null);
    }

    /**
     * Hashes spans [first, end) of fd into hashes (one digest each, at its index), reading by
     * position through the buffer, as a digest reads; a file that ends before them has changed
     * since its size, size, was taken.
     */
    void hashSpans(int fd, long first, long end, MemorySegment hashes, long size, String what) throws IOException {
        FsVerity v = verity;
        long span = v.span();
        heldSize = -1; // the buffer is overwritten
        for (long s = first; s < end; s++) {
            v.reset();
            for (long got = 0, n; got < span; got += n) {
                n = unistd_h.pread(scratch, fd, native_, 0, Math.min(span - got, native_.byteSize()), s * span + got, what);
                if (n == 0) {
                    throw new IOException(what + ": changed while being read (" + size + " bytes, then it ended at "
                            + (s * span + got) + ")");
                }
                v.update(native_, 0, n);
            }
            v.spanHash(hashes, s * FsVerity.DIGEST_SIZE);
        }
    }

    /**
     * Copies at most size bytes of in (from its current offset; fewer if it ends first: the
     * result's size says) to out through the read buffer, hashing them on the way: the digest
     * is of exactly the bytes written. what and outWhat name the two in errors.
     */
    public Result copy(int in, int out, long size, String what, String outWhat) throws IOException {
        FsVerity v = verity;
        v.reset();
        heldSize = -1; // the buffer is overwritten
        long total = 0;
        for (long n; total < size; total += n) {
            n = unistd_h.read(scratch, in, native_, 0, Math.min(size - total, native_.byteSize()), what);
            if (n == 0) {
                break;
            }
            v.update(native_, 0, n);
            unistd_h.writeFully(out, native_, n, outWhat);
        }
        return new Result(v.digest(), total, null);
    }

    /** The owning thread's scratch for native calls. */
    public Scratch scratch() {
        return scratch;
    }

    /**
     * The whole content of the file the last digest read (valid until the next digest), or null
     * if it was larger than the buffer (which holding makes {@link #HOLD_MAX}): what a store
     * writes for a new object, straight from the bytes that were hashed, without a copy.
     */
    public MemorySegment held() {
        return heldSize >= 0 ? native_.asSlice(0, heldSize) : null;
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
        scratch.close();
        arena.close();
    }
}
