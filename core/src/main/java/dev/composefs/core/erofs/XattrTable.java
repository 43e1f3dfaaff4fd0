package dev.composefs.core.erofs;

import static dev.composefs.core.erofs.Format.roundUp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;

/**
 * The distinct (name, value) xattr pairs of an image and how many inodes carry each: those on
 * more than one inode go to the shared xattr area (compute_erofs_shared_xattrs). Names are
 * numbered once, so what EROFS derives from a name (prefix index, stored suffix, bloom-filter
 * bit) is worked out once per name rather than once per inode.
 */
final class XattrTable {
    private final HashMap<String, Integer> nameIds = new HashMap<>();
    private final List<String> names = new ArrayList<>();
    private int[] prefixOf = new int[8];
    private int[] filterBitOf = new int[8];

    // one slot per distinct pair, addressed by id; an open-addressing index finds them
    private int size;
    private int[] nameOf = new int[1024];
    private Object[] values = new Object[1024];
    private int[] hashes = new int[1024];
    private int[] counts = new int[1024];
    private int[] offsets; // in the shared area, which is far smaller than the image (under 2 GiB)
    private int[] index = new int[2048]; // id + 1, 0 = free; a power of two, at most half full

    private long sharedSize;
    private int[] sharedOrder = new int[0];

    /** The id of (name, value), counting one more inode that carries it; value as {@link XattrValue}. */
    int add(String name, Object value) {
        int nameId = nameId(name);
        int hash = nameId * 31 + XattrValue.hash(value);
        int mask = index.length - 1;
        for (int slot = mix(hash) & mask;; slot = (slot + 1) & mask) {
            int id = index[slot] - 1;
            if (id < 0) {
                id = append(nameId, value, hash);
                index[slot] = id + 1;
                if (size * 2 > index.length) {
                    rehash();
                }
                counts[id]++;
                return id;
            }
            if (hashes[id] == hash && nameOf[id] == nameId && XattrValue.same(values[id], value)) {
                counts[id]++;
                return id;
            }
        }
    }

    private int nameId(String name) {
        Integer known = nameIds.get(name);
        if (known != null) {
            return known;
        }
        int id = names.size();
        names.add(name);
        nameIds.put(name, id);
        if (id == prefixOf.length) {
            prefixOf = Arrays.copyOf(prefixOf, id * 2);
            filterBitOf = Arrays.copyOf(filterBitOf, id * 2);
        }
        int prefix = Format.xattrIndex(name);
        prefixOf[id] = prefix;
        byte[] suffix = name.substring(Format.XATTR_PREFIXES[prefix].length()).getBytes(StandardCharsets.ISO_8859_1);
        filterBitOf[id] = 1 << (XxHash32.hash(suffix, 0, suffix.length, Format.XATTR_FILTER_SEED + prefix)
                & (Format.XATTR_FILTER_BITS - 1));
        return id;
    }

    private int append(int nameId, Object value, int hash) {
        if (size == nameOf.length) {
            int n = size * 2;
            nameOf = Arrays.copyOf(nameOf, n);
            values = Arrays.copyOf(values, n);
            hashes = Arrays.copyOf(hashes, n);
            counts = Arrays.copyOf(counts, n);
        }
        nameOf[size] = nameId;
        values[size] = value;
        hashes[size] = hash;
        return size++;
    }

    private void rehash() {
        index = new int[index.length * 2];
        int mask = index.length - 1;
        for (int id = 0; id < size; id++) {
            int slot = mix(hashes[id]) & mask;
            while (index[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            index[slot] = id + 1;
        }
    }

    private static int mix(int h) {
        return h ^ (h >>> 16) ^ (h >>> 7);
    }

    /**
     * Lays out the shared area: every pair on more than one inode, in upstream's order
     * (descending by name, then value length, then value bytes).
     */
    void layOutShared() {
        offsets = new int[size];
        Arrays.fill(offsets, -1);
        List<Integer> shared = new ArrayList<>();
        for (int id = 0; id < size; id++) {
            if (counts[id] > 1) {
                shared.add(id);
            }
        }
        shared.sort((a, b) -> {
            int r = names.get(nameOf[b]).compareTo(names.get(nameOf[a]));
            if (r != 0) {
                return r;
            }
            int la = XattrValue.length(values[a]);
            int lb = XattrValue.length(values[b]);
            if (la != lb) {
                return lb - la;
            }
            return XattrValue.compare(values[b], values[a]);
        });
        sharedOrder = new int[shared.size()];
        long off = 0;
        for (int i = 0; i < sharedOrder.length; i++) {
            int id = shared.get(i);
            sharedOrder[i] = id;
            offsets[id] = Math.toIntExact(off);
            off += entrySize(id);
        }
        sharedSize = off;
    }

    /** Offset of a pair in the shared area, or -1 if it is stored in its inode. */
    long sharedOffset(int id) {
        return offsets[id];
    }

    long sharedSize() {
        return sharedSize;
    }

    /** Pair ids in the order the shared area stores them. */
    int[] sharedOrder() {
        return sharedOrder;
    }

    /** Whether any inode carries a POSIX ACL (the composefs header has a flag for it). */
    boolean hasAcl() {
        return nameIds.containsKey("system.posix_acl_access") || nameIds.containsKey("system.posix_acl_default");
    }

    int filterBit(int id) {
        return filterBitOf[nameOf[id]];
    }

    /**
     * Size of one stored entry (header, name suffix and value, padded to 4 bytes). Worked out
     * when asked, not kept: an array of them was 4 bytes more per pair, two pairs per file.
     */
    int entrySize(int id) {
        int nameId = nameOf[id];
        int suffix = names.get(nameId).length() - Format.XATTR_PREFIXES[prefixOf[nameId]].length();
        return (int) roundUp(Format.XATTR_ENTRY_SIZE + suffix + XattrValue.length(values[id]), 4);
    }

    /** Writes one entry (erofs_xattr_entry, suffix, value) at p; returns the padded end. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a Latin-1 string's bytes, copied as they are
    int writeEntry(byte[] img, int p, int id) {
        int nameId = nameOf[id];
        String name = names.get(nameId);
        int from = Format.XATTR_PREFIXES[prefixOf[nameId]].length();
        int suffix = name.length() - from;
        Object value = values[id];
        int length = XattrValue.length(value);
        new OnDisk.XattrEntry(suffix, prefixOf[nameId], length).writeTo(img, p);
        name.getBytes(from, name.length(), img, p + OnDisk.XattrEntry.SIZE);
        XattrValue.copy(value, img, p + OnDisk.XattrEntry.SIZE + suffix);
        return (int) roundUp(p + (long) OnDisk.XattrEntry.SIZE + suffix + length, 4);
    }
}
