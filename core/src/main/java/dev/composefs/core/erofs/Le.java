package dev.composefs.core.erofs;

/** Little-endian stores into a byte array: EROFS is little-endian, and these stay cheap before the JIT warms up. */
final class Le {
    private Le() {}

    static void put16(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
    }

    static void put32(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
        b[p + 2] = (byte) (v >>> 16);
        b[p + 3] = (byte) (v >>> 24);
    }

    static void put64(byte[] b, int p, long v) {
        put32(b, p, (int) v);
        put32(b, p + 4, (int) (v >>> 32));
    }
}
