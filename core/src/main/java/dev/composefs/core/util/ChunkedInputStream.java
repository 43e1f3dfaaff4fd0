package dev.composefs.core.util;

import java.io.IOException;
import java.io.InputStream;

/** An InputStream defined by its array read; the single-byte read goes through that one. */
public abstract class ChunkedInputStream extends InputStream {
    @Override
    public int read() throws IOException {
        byte[] b = new byte[1];
        return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
    }

    @Override
    public abstract int read(byte[] b, int off, int len) throws IOException;
}
