package dev.composefs.core.tree;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Extended attributes of one inode, in the order they were set: a dump lists them as the source
 * had them (upstream's composefs-info prints an image's inline xattrs, then its shared ones).
 * The image and descriptor writers sort them by name themselves.
 */
public final class Xattrs {
    // Made on the first put: most inodes have no xattrs, and a tree has one Xattrs per inode.
    private LinkedHashMap<String, byte[]> map;

    public Xattrs copy() {
        Xattrs c = new Xattrs();
        if (map != null) {
            c.map = new LinkedHashMap<>(map);
        }
        return c;
    }

    /** Sets (or replaces) key; the key is a Latin-1 byte string. */
    public void put(String key, byte[] value) {
        if (map == null) {
            map = new LinkedHashMap<>();
        }
        map.put(key, value);
    }

    public byte[] get(String key) {
        return map == null ? null : map.get(key);
    }

    public byte[] remove(String key) {
        return map == null ? null : map.remove(key);
    }

    public boolean isEmpty() {
        return map == null || map.isEmpty();
    }

    public int size() {
        return map == null ? 0 : map.size();
    }

    public Set<Map.Entry<String, byte[]>> entries() {
        return map == null ? Collections.emptySet() : map.entrySet();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Xattrs other) || other.size() != size()) {
            return false;
        }
        for (var e : entries()) {
            if (!Arrays.equals(e.getValue(), other.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = 0;
        for (var e : entries()) {
            h += e.getKey().hashCode() ^ Arrays.hashCode(e.getValue());
        }
        return h;
    }

    @Override
    public String toString() {
        return map == null ? "[]" : map.keySet().toString();
    }
}
