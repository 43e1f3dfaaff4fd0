package dev.composefs.core.erofs;

import dev.composefs.core.tree.RegularFile;
import java.util.Arrays;

/**
 * An xattr value as the writer carries it: a byte[] of its bytes; for an overlay redirect, a
 * String: the payload path it names, whose value is "/" + payload; for an overlay metacopy with
 * a digest, the RegularFile whose digest it carries (a 4-byte header, then the digest). Both
 * overlay xattrs are on every file in the store, and a byte array per file for each was 4 and
 * 3 MB on a 64k-entry tree, all of it live until the image is written; the payload string and
 * the file are the tree's own, and their bytes go straight into the image. Every form hashes
 * and compares by the value's bytes, so which form a value has never matters.
 */
final class XattrValue {
    private XattrValue() {}

    /** The metacopy header: version 0, length 36, no flags, digest algorithm FS_VERITY_HASH_ALG_SHA256. */
    private static final byte[] METACOPY_HEADER = {0, 4 + 32, 0, 1};

    /** The value "/" + payload. */
    static Object redirect(String payload) {
        return payload;
    }

    /** The value of trusted.overlay.metacopy for a file with an fs-verity digest (32 bytes). */
    static Object metacopy(RegularFile withDigest) {
        return withDigest;
    }

    static int length(Object v) {
        return switch (v) {
            case byte[] b -> b.length;
            case String p -> p.length() + 1;
            default -> METACOPY_HEADER.length + 32;
        };
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
