package dev.composefs.core.oci;

import dev.composefs.core.util.ChunkedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.function.LongConsumer;

/**
 * Hashes and counts what passes through, so a blob is checked against its descriptor (digest
 * and size) once it has been read to the end. Reading more than the expected size fails at
 * once: a hostile source cannot stream without end.
 */
final class CheckedStream extends ChunkedInputStream {
    private final InputStream in;
    private final Digest expected;
    private final long expectedSize;
    private final String what;
    private final MessageDigest md;
    private final LongConsumer progress;
    private long count;

    /** expected may be null (only counted); expectedSize -1 when unknown. */
    CheckedStream(InputStream in, Digest expected, long expectedSize, String what, LongConsumer progress) {
        this.in = in;
        this.expected = expected;
        this.expectedSize = expectedSize;
        this.what = what;
        this.md = expected == null ? null : expected.newMessageDigest();
        this.progress = progress;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            if (md != null) {
                md.update(b, off, n);
            }
            count += n;
            if (expectedSize >= 0 && count > expectedSize) {
                throw new IOException(what + ": more than the " + expectedSize + " bytes its descriptor gives");
            }
            if (progress != null) {
                progress.accept(n);
            }
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        byte[] buf = new byte[(int) Math.min(n, 1 << 16)];
        int r = read(buf, 0, buf.length);
        return Math.max(r, 0);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    /** Reads the rest, then checks size and digest. */
    void finish() throws IOException {
        byte[] buf = new byte[1 << 16];
        while (read(buf, 0, buf.length) >= 0) {
            // drained: the digest covers the whole blob, trailing bytes included
        }
        if (expectedSize >= 0 && count != expectedSize) {
            throw new IOException(what + ": " + count + " bytes, its descriptor gives " + expectedSize);
        }
        if (md != null) {
            String actual = HexFormat.of().formatHex(md.digest());
            if (!actual.equals(expected.hex())) {
                throw new IOException(what + ": content does not match its digest (it hashes to "
                        + expected.algorithm() + ":" + actual + "); refused");
            }
        }
    }
}
