package dev.composefs.core.fuse;

import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The inodes of an image's tree, numbered once, depth first in name order, the root 1 (FUSE's
 * root id): an inode number is also its FUSE node id, and every name of a hardlinked file has
 * its inode's number. The tree never changes while it is served, so nothing is ever forgotten.
 */
final class Inodes {
    /** A directory's entries in name (byte) order, for readdir offsets and binary-search lookups. */
    record Entries(byte[][] names, int[] inodes) {
        int find(byte[] name) {
            int lo = 0;
            int hi = names.length - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                int c = Arrays.compareUnsigned(names[mid], name);
                if (c < 0) {
                    lo = mid + 1;
                } else if (c > 0) {
                    hi = mid - 1;
                } else {
                    return inodes[mid];
                }
            }
            return 0;
        }
    }

    private final Node[] nodes;
    private final int[] parents;
    private final Entries[] entries;
    private final long[] dirSizes;

    private Inodes(Node[] nodes, int[] parents, Entries[] entries) {
        this.dirSizes = new long[nodes.length];
        this.nodes = nodes;
        this.parents = parents;
        this.entries = entries;
    }

    static Inodes of(Directory root) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(null); // 0 is no inode
        Map<Node, Integer> numbers = new IdentityHashMap<>();
        List<Integer> parents = new ArrayList<>();
        parents.add(0);
        List<Entries> entries = new ArrayList<>();
        entries.add(null);
        record Visit(Directory dir, int number) {}
        numbers.put(root, 1);
        nodes.add(root);
        parents.add(1);
        entries.add(null);
        ArrayDeque<Visit> stack = new ArrayDeque<>();
        stack.push(new Visit(root, 1));
        while (!stack.isEmpty()) {
            Visit v = stack.pop();
            int n = v.dir().entries().size();
            byte[][] names = new byte[n][];
            int[] inodes = new int[n];
            List<Visit> subdirs = new ArrayList<>();
            int i = 0;
            for (Map.Entry<String, Node> e : v.dir().entries().entrySet()) {
                Node node = e.getValue() instanceof Hardlink h ? h.target() : e.getValue();
                Integer number = numbers.get(node);
                if (number == null) {
                    number = nodes.size();
                    numbers.put(node, number);
                    nodes.add(node);
                    parents.add(v.number());
                    entries.add(null);
                    if (node instanceof Directory d) {
                        subdirs.add(new Visit(d, number));
                    }
                }
                names[i] = e.getKey().getBytes(StandardCharsets.ISO_8859_1);
                inodes[i++] = number;
            }
            entries.set(v.number(), new Entries(names, inodes));
            for (int k = subdirs.size() - 1; k >= 0; k--) { // depth first, in name order
                stack.push(subdirs.get(k));
            }
        }
        return new Inodes(nodes.toArray(Node[]::new), parents.stream().mapToInt(Integer::intValue).toArray(),
                entries.toArray(Entries[]::new));
    }

    /** The node of an inode number, or null for a number that is none. */
    Node node(long ino) {
        return ino > 0 && ino < nodes.length ? nodes[(int) ino] : null;
    }

    /** A directory's parent (the root's is the root). */
    int parent(long ino) {
        return parents[(int) ino];
    }

    /** A directory's entries, or null for what is not a directory. */
    Entries entries(long ino) {
        return ino > 0 && ino < entries.length ? entries[(int) ino] : null;
    }

    /** What stat shows as the inode's size (directories' computed once, when first asked). */
    long size(long ino) {
        Node n = nodes[(int) ino];
        if (!(n instanceof Directory)) {
            return Attributes.size(n, false);
        }
        long s = dirSizes[(int) ino];
        if (s == 0) {
            s = Attributes.size(n, ino == 1);
            dirSizes[(int) ino] = s;
        }
        return s;
    }

    /** How many inodes there are. */
    int count() {
        return nodes.length - 1;
    }

    static int type(Node node) {
        return node.meta().mode() & Meta.S_IFMT;
    }
}
