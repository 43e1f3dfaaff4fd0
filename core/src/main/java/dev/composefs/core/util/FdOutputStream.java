package dev.composefs.core.util;

import dev.composefs.bindings.Native;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.unistd_h;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Writes to an fd the caller owns, through a native buffer in the caller's arena: the write(2)
 * binding, not a FileChannel, whose first use initialises sun.nio.ch (three sockets opened to
 * probe IPv6 and port reuse) and loads about fifty classes in every run that writes an image.
 */
final class FdOutputStream extends OutputStream {
    private static final int SIZE = 1 << 16;

    private final int fd;
    private final String what;
    private final MemorySegment buf;
    private int used;

    FdOutputStream(int fd, String what, Arena arena) {
        this.fd = fd;
        this.what = what;
        this.buf = arena.allocate(SIZE);
    }

    @Override
    public void write(int b) throws IOException {
        if (used == SIZE) {
            flush();
        }
        buf.set(java.lang.foreign.ValueLayout.JAVA_BYTE, used++, (byte) b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (used == SIZE) {
                flush();
            }
            int n = Math.min(len, SIZE - used);
            Native.copy(b, off, buf, used, n);
            used += n;
            off += n;
            len -= n;
        }
    }

    /** Everything buffered goes to the fd (a short write is continued; an error names what). */
    @Override
    public void flush() throws IOException {
        if (used > 0) {
            try {
                unistd_h.writeFully(fd, buf, used, what);
            } catch (SyscallException e) {
                throw new IOException(e.reason(), e);
            }
            used = 0;
        }
    }
}
