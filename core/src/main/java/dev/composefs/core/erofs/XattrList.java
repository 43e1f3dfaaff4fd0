package dev.composefs.core.erofs;

import java.util.Arrays;

/** The xattrs of one inode while the writer builds it: in name (strcmp) order, values as {@link XattrValue}. */
final class XattrList {
    String[] keys = new String[4];
    Object[] values = new Object[4];
    int count;

    /** Sets (or replaces) one xattr, keeping name order: an inode has a handful at most. */
    void put(String key, Object value) {
        int i = count;
        while (i > 0) {
            int c = keys[i - 1].compareTo(key);
            if (c == 0) {
                values[i - 1] = value;
                return;
            }
            if (c < 0) {
                break;
            }
            i--;
        }
        if (count == keys.length) {
            keys = Arrays.copyOf(keys, count * 2);
            values = Arrays.copyOf(values, count * 2);
        }
        System.arraycopy(keys, i, keys, i + 1, count - i);
        System.arraycopy(values, i, values, i + 1, count - i);
        keys[i] = key;
        values[i] = value;
        count++;
    }

    Object get(String key) {
        for (int i = 0; i < count; i++) {
            if (keys[i].equals(key)) {
                return values[i];
            }
        }
        return null;
    }

    /** Empties the list for the next inode (the arrays stay, grown or not). */
    XattrList clear() {
        count = 0;
        return this;
    }
}
