package dev.composefs.core.fsverity;

import dev.composefs.core.util.Parallel;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The whole spans of one large open file (see {@link FsVerity#span}), hashed in parts of a few
 * MiB by whichever workers take them, each with its own digester and buffer, each part's hashes
 * written to its own place. The file's digester then joins them in order: the digest is the
 * same whoever hashed what.
 */
final class SpanHashing implements Parallel.Shared<FdDigester> {
    /**
     * Bytes of one part: the file's worker, having taken the last part, waits for those others
     * are still hashing, so a part is small enough that this wait stays short.
     */
    static final long PART = 1L << 20;

    private final int fd;
    private final long size;
    private final long spans;
    private final long spansPerPart;
    private final int parts;
    private final String what;
    // On the heap, which every worker may write: a shared arena's close stops every thread (a
    // handshake), once per large file.
    private final MemorySegment hashes;
    private final AtomicInteger next = new AtomicInteger();
    private final CountDownLatch done;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    /** The first spans of fd's size bytes, span bytes each, hashed by digesters with digestSize-byte hashes. */
    SpanHashing(int fd, long size, long span, int digestSize, long spans, String what) {
        this.fd = fd;
        this.size = size;
        this.spans = spans;
        this.spansPerPart = Math.max(1, PART / span);
        this.parts = Math.toIntExact((spans + spansPerPart - 1) / spansPerPart);
        this.what = what;
        this.hashes = MemorySegment.ofArray(new byte[Math.toIntExact(spans * digestSize)]);
        this.done = new CountDownLatch(parts);
    }

    @Override
    public boolean runPart(FdDigester dg) {
        int part = next.getAndIncrement();
        if (part >= parts) {
            return false;
        }
        try {
            long first = part * spansPerPart;
            dg.hashSpans(fd, first, Math.min(first + spansPerPart, spans), hashes, size, what);
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        } finally {
            done.countDown();
        }
        return true;
    }

    /** The spans' hashes in order, once {@link #awaitParts} returned. */
    MemorySegment hashes() {
        return hashes;
    }

    /** Waits for the parts other workers are still hashing; throws the first part's failure. */
    void awaitParts() throws IOException {
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException(what + ": interrupted while hashing");
        }
        Throwable t = failure.get();
        if (t instanceof IOException e) {
            throw e;
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
    }
}
