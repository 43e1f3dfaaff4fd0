package dev.composefs.core.erofs;

import java.util.Arrays;

/**
 * An xattr value as the writer carries it: a byte[] of its bytes, or, for an overlay redirect,
 * a String: the payload path it names, whose value is "/" + payload. A redirect is on every file
 * in the store, and a byte array (or any object) per file for it was 4 MB and a copy per file on
 * a 64k-entry tree; the payload string is the tree's own, and its bytes go straight into the
 * image. Both forms hash and compare by the value's bytes, so which form a value has never matters.
 */
final class XattrValue {
    private XattrValue() {}

    /** The value "/" + payload. */
    static Object redirect(String payload) {
        return payload;
    }

    static int length(Object v) {
        return v instanceof byte[] b ? b.length : ((String) v).length() + 1;
    }

    /** Arrays.hashCode of the value's bytes. */
    static int hash(Object v) {
        if (v instanceof byte[] b) {
            return Arrays.hashCode(b);
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
        return Arrays.equals(bytes(a), bytes(b));
    }

    /** Unsigned comparison of the values' bytes (a Latin-1 string compares the same way). */
    static int compare(Object a, Object b) {
        if (a instanceof String ra && b instanceof String rb) {
            return ra.compareTo(rb);
        }
        return Arrays.compareUnsigned(bytes(a), bytes(b));
    }

    /** Copies the value's bytes to dst at off. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a Latin-1 string's bytes, copied as they are
    static void copy(Object v, byte[] dst, int off) {
        if (v instanceof byte[] b) {
            System.arraycopy(b, 0, dst, off, b.length);
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
