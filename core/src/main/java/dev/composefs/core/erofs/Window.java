package dev.composefs.core.erofs;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * The part of an image being written. The writer fills regions at increasing offsets only, so
 * whatever lies before a new region is final: with an output stream that part is written out
 * and the window moves on, so the image is never whole in memory.
 * Without a stream the window is the whole image.
 */
final class Window {
    private static final int STREAMING_SIZE = 1 << 18;

    private final OutputStream out;
    private byte[] buf;
    private long base;

    private Window(OutputStream out, byte[] buf) {
        this.out = out;
        this.buf = buf;
    }

    static Window whole(long size) {
        return new Window(null, new byte[(int) size]);
    }

    static Window streaming(OutputStream out) {
        return new Window(out, new byte[STREAMING_SIZE]);
    }

    /**
     * Makes image bytes [pos, pos + len) writable, all zero until written; returns the offset of
     * pos in {@link #buf()}, which this call may replace. pos must not lie before an earlier region's end.
     */
    int at(long pos, int len) throws IOException {
        if (pos < base) {
            throw new IllegalStateException("image region at " + pos + " after one at " + base);
        }
        if (pos + len <= base + buf.length) {
            return (int) (pos - base);
        }
        int done = writeOutTo(pos);
        // The window now starts at pos; nothing was written past pos yet, so only what went out
        // needs zeroing for the padding between regions.
        if (len > buf.length) {
            buf = new byte[len];
        } else {
            Arrays.fill(buf, 0, done, (byte) 0);
        }
        base = pos;
        return 0;
    }

    byte[] buf() {
        return buf;
    }

    /** Writes out the rest of an image of this size. */
    void finish(long size) throws IOException {
        if (out == null) {
            return;
        }
        writeOutTo(size);
        out.flush();
    }

    /** Writes out image bytes [base, pos): the window's, then zeros past it; returns how many came from the window. */
    private int writeOutTo(long pos) throws IOException {
        int fromWindow = (int) Math.min(pos - base, buf.length);
        out.write(buf, 0, fromWindow);
        if (pos - base > buf.length) {
            writeZeros(pos - base - buf.length);
        }
        return fromWindow;
    }

    /** The whole image (a window made by {@link #whole}). */
    byte[] image() {
        return buf;
    }

    private void writeZeros(long n) throws IOException {
        byte[] zeros = new byte[(int) Math.min(n, 1 << 16)];
        while (n > 0) {
            int k = (int) Math.min(n, zeros.length);
            out.write(zeros, 0, k);
            n -= k;
        }
    }
}
