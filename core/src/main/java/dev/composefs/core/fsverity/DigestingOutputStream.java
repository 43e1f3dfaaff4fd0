package dev.composefs.core.fsverity;

import java.io.IOException;
import java.io.OutputStream;

/** Passes bytes on and feeds them to an fs-verity digest: an image's digest taken as it is written. */
public final class DigestingOutputStream extends OutputStream {
    private final OutputStream out;
    private final FsVerity verity;

    public DigestingOutputStream(OutputStream out, FsVerity verity) {
        this.out = out;
        this.verity = verity;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        verity.update(b, off, len);
        out.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }
}
