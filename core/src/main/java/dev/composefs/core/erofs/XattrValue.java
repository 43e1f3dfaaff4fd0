package dev.composefs.core.erofs;

import dev.composefs.core.tree.RegularFile;
import java.util.Arrays;

/**
 * An xattr value as the writer carries it: a byte[] of its bytes; for an overlay redirect, a
 * String: the payload path it names, whose value is "/" + payload, or an ObjectRedirect where
 * that path is the file's digest's object path (the tree keeps no string for it, see
 * RegularFile); for an overlay metacopy with a digest, the RegularFile whose digest it carries
 * (a 4-byte header, then the digest). Both overlay xattrs are on every file in the store, and a
 * byte array per file for each would stay live until the image is written; their bytes go
 * straight from the tree into the image. Every form hashes and
 * compares by the value's bytes, so which form a value has never matters.
 */
final class XattrValue {
    private XattrValue() {}

    /** The metacopy header: version 0, length 36, no flags, digest algorithm FS_VERITY_HASH_ALG_SHA256. */
    private static final byte[] METACOPY_HEADER = {0, 4 + 32, 0, 1};

    /** The value "/" + payload. */
    static Object redirect(String payload) {
        return payload;
    }

    /**
     * The redirect "/" + objectPath(digest) of a file whose payload is its digest's object path:
     * '/', two hex digits, '/', 62 hex digits.
     */
    private record ObjectRedirect(RegularFile file) {
        static final int LENGTH = 1 + 65;
    }

    /**
     * For each byte b, what its two hex digits add to a 31-polynomial hash: 31 * hi + lo, so
     * h = 961 * h + HEX_PAIR[b]. The writer hashes every file's redirect in its single-threaded
     * phase: a byte at a time halves that work.
     */
    private static final int[] HEX_PAIR = new int[256];

    static {
        for (int b = 0; b < 256; b++) {
            HEX_PAIR[b] = 31 * RegularFile.hexDigit(b >> 4) + RegularFile.hexDigit(b);
        }
    }

    static Object redirectToObject(RegularFile file) {
        return new ObjectRedirect(file);
    }

    /** The value of trusted.overlay.metacopy for a file with an fs-verity digest (32 bytes). */
    static Object metacopy(RegularFile withDigest) {
        return withDigest;
    }

    static int length(Object v) {
        // instanceof, not a pattern switch: see ErofsWriter.build
        if (v instanceof byte[] b) {
            return b.length;
        }
        if (v instanceof String p) {
            return p.length() + 1;
        }
        return v instanceof ObjectRedirect ? ObjectRedirect.LENGTH : METACOPY_HEADER.length + 32;
    }

    /** Arrays.hashCode of the value's bytes. */
    static int hash(Object v) {
        if (v instanceof byte[] b) {
            return Arrays.hashCode(b);
        }
        if (v instanceof RegularFile f) {
            int h = 1;
            for (byte x : METACOPY_HEADER) {
                h = 31 * h + x;
            }
            for (byte x : f.digest()) {
                h = 31 * h + x;
            }
            return h;
        }
        if (v instanceof ObjectRedirect r) {
            byte[] d = r.file().digest();
            int h = 31 + '/';
            h = 961 * h + HEX_PAIR[d[0] & 0xff];
            h = 31 * h + '/';
            for (int i = 1; i < 32; i++) {
                h = 961 * h + HEX_PAIR[d[i] & 0xff];
            }
            return h;
        }
        String p = (String) v;
        int h = 31 + '/';
        for (int i = 0, n = p.length(); i < n; i++) {
            h = 31 * h + (byte) p.charAt(i);
        }
        return h;
    }

    static boolean same(Object a, Object b) {
        if (a instanceof String ra && b instanceof String rb) {
            return ra.equals(rb);
        }
        if (a instanceof RegularFile fa && b instanceof RegularFile fb) {
            return Arrays.equals(fa.digest(), fb.digest());
        }
        if (a instanceof ObjectRedirect ra && b instanceof ObjectRedirect rb) {
            return Arrays.equals(ra.file().digest(), rb.file().digest());
        }
        return Arrays.equals(bytes(a), bytes(b));
    }

    /** Unsigned comparison of the values' bytes (a Latin-1 string compares the same way). */
    static int compare(Object a, Object b) {
        if (a instanceof String ra && b instanceof String rb) {
            return ra.compareTo(rb);
        }
        if (a instanceof RegularFile fa && b instanceof RegularFile fb) {
            return Arrays.compareUnsigned(fa.digest(), fb.digest());
        }
        if (a instanceof ObjectRedirect ra && b instanceof ObjectRedirect rb) {
            // fixed-length lower-case hex of the digests, '/' in the same places: their byte order
            return Arrays.compareUnsigned(ra.file().digest(), rb.file().digest());
        }
        return Arrays.compareUnsigned(bytes(a), bytes(b));
    }

    /** Copies the value's bytes to dst at off. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a Latin-1 string's bytes, copied as they are
    static void copy(Object v, byte[] dst, int off) {
        if (v instanceof byte[] b) {
            System.arraycopy(b, 0, dst, off, b.length);
        } else if (v instanceof RegularFile f) {
            System.arraycopy(METACOPY_HEADER, 0, dst, off, METACOPY_HEADER.length);
            System.arraycopy(f.digest(), 0, dst, off + METACOPY_HEADER.length, 32);
        } else if (v instanceof ObjectRedirect r) {
            byte[] d = r.file().digest();
            dst[off] = '/';
            dst[off + 1] = (byte) RegularFile.hexDigit(d[0] >> 4);
            dst[off + 2] = (byte) RegularFile.hexDigit(d[0]);
            dst[off + 3] = '/';
            for (int i = 1, p = off + 4; i < 32; i++, p += 2) {
                dst[p] = (byte) RegularFile.hexDigit(d[i] >> 4);
                dst[p + 1] = (byte) RegularFile.hexDigit(d[i]);
            }
        } else {
            String p = (String) v;
            dst[off] = '/';
            p.getBytes(0, p.length(), dst, off + 1);
        }
    }

    static byte[] bytes(Object v) {
        if (v instanceof byte[] b) {
            return b;
        }
        byte[] b = new byte[length(v)];
        copy(v, b, 0);
        return b;
    }
}
