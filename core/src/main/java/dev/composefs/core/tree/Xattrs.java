package dev.composefs.core.tree;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Extended attributes of one inode, ordered by key as strcmp(3) orders them. */
public final class Xattrs {
    private final TreeMap<String, byte[]> map = new TreeMap<>();

    public Xattrs copy() {
        Xattrs c = new Xattrs();
        c.map.putAll(map);
        return c;
    }

    /** Sets (or replaces) key; the key is a Latin-1 byte string. */
    public void put(String key, byte[] value) {
        map.put(key, value);
    }

    public byte[] get(String key) {
        return map.get(key);
    }

    public byte[] remove(String key) {
        return map.remove(key);
    }

    public boolean isEmpty() {
        return map.isEmpty();
    }

    public int size() {
        return map.size();
    }

    public Set<Map.Entry<String, byte[]>> entries() {
        return map.entrySet();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Xattrs other) || other.map.size() != map.size()) {
            return false;
        }
        for (var e : map.entrySet()) {
            if (!Arrays.equals(e.getValue(), other.map.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = 0;
        for (var e : map.entrySet()) {
            h += e.getKey().hashCode() ^ Arrays.hashCode(e.getValue());
        }
        return h;
    }

    @Override
    public String toString() {
        return map.keySet().toString();
    }
}
