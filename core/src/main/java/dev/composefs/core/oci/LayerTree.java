package dev.composefs.core.oci;

import dev.composefs.core.dumpfile.Escaping;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Symlink;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Future;

/**
 * A mutable tree for applying layers: one per layer while its tar is read (with the layer's
 * whiteouts and opaque markers kept beside its entries), and one for the merged image, into
 * which each layer is merged in order. Whiteouts act only on what lower layers put there,
 * wherever they stand in their own tar, as the OCI image spec says.
 */
final class LayerTree {
    private LayerTree() {}

    sealed interface Entry permits Dir, Leaf, Link, Pending {}

    /** A directory; meta is null for one the layer only implies (a parent of its entries). */
    static final class Dir implements Entry {
        Meta meta;
        final TreeMap<String, Entry> children = new TreeMap<>();
        boolean opaque;
        final TreeSet<String> whiteouts = new TreeSet<>();

        Dir(Meta meta) {
            this.meta = meta;
        }
    }

    /** Any non-directory inode; two Leafs holding the same node are two names of one inode. */
    record Leaf(Node node) implements Entry {}

    /** A file whose digest and object are being made on another thread; a Leaf once the layer is read. */
    record Pending(Future<Node> node) implements Entry {}

    /** A tar hardlink, resolved against the merged tree when its layer is merged. */
    record Link(List<String> target, String path) implements Entry {}

    /** Path components of a member name: "./a//b/" is [a, b]; ".." anywhere is refused. */
    static List<String> components(String name, String what) throws IOException {
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                throw new IOException(what + ": member " + printable(name) + " leads outside the image ('..')");
            }
            out.add(c);
        }
        return out;
    }

    /**
     * Merges one layer into the image tree (both rooted at their root directories). Hardlinks
     * to lower layers' files are resolved first, against the image as it was below this layer:
     * like a tar extracted in order, a link keeps the inode it was made to, whatever the layer
     * does to that name afterwards.
     */
    static void merge(Dir image, Dir layer, String what) throws IOException {
        resolveLinks(image, layer, what);
        merge(image, image, List.of(), layer);
    }

    private static void resolveLinks(Dir image, Dir d, String what) throws IOException {
        for (var e : d.children.entrySet()) {
            if (e.getValue() instanceof Dir sub) {
                resolveLinks(image, sub, what);
            } else if (e.getValue() instanceof Link link) {
                e.setValue(target(image, link, what));
            }
        }
    }

    /** What a hardlink names in tree: a file's Leaf (or one being hashed); otherwise an error. */
    static Entry target(Dir tree, Link link, String what) throws IOException {
        Entry target = lookup(tree, link.target());
        if (target instanceof Dir) {
            throw new IOException(what + ": hardlink " + printable(link.path()) + " points to a directory");
        }
        if (!(target instanceof Leaf || target instanceof Pending)) {
            throw new IOException(what + ": hardlink " + printable(link.path()) + " -> "
                    + printable(String.join("/", link.target())) + ": no such file in this or a lower layer");
        }
        return target;
    }

    /**
     * Merges layer into base, the directory at path in image. A directory the layer only implies
     * (a parent of its members, no entry of its own) where a lower layer has a symlink to a
     * directory is that directory, as umoci and containerd extract it (bin/x over bin -> usr/bin
     * is usr/bin/x), the symlink resolved inside the image and missing directories made.
     */
    private static void merge(Dir image, Dir base, List<String> path, Dir layer) {
        if (layer.meta != null) {
            base.meta = layer.meta;
        }
        if (layer.opaque) {
            base.children.clear();
        }
        for (String w : layer.whiteouts) {
            base.children.remove(w); // an entry of this layer by that name is put back below
        }
        for (var e : layer.children.entrySet()) {
            String name = e.getKey();
            Entry entry = e.getValue();
            if (entry instanceof Dir d) {
                List<String> sub = new ArrayList<>(path);
                sub.add(name);
                Entry existing = base.children.get(name);
                if (d.meta == null && existing instanceof Leaf l && l.node() instanceof Symlink link) {
                    List<String> resolved = resolve(image, path, link.target(), 0);
                    Dir dir = resolved == null ? null : directories(image, resolved);
                    if (dir != null) {
                        merge(image, dir, resolved, d);
                        continue;
                    }
                }
                Dir target = existing instanceof Dir dir ? dir : new Dir(null);
                if (target.meta == null && d.meta == null) {
                    target.meta = implied();
                }
                base.children.put(name, target);
                merge(image, target, sub, d);
            } else {
                base.children.put(name, entry);
            }
        }
    }

    /**
     * Where a symlink in directory dir pointing to target leads, as a path from the image root
     * (".." stops at the root, as in a chroot), following further symlinks up to 40; null for a
     * loop or too many.
     */
    static List<String> resolve(Dir image, List<String> dir, String target, int hops) {
        if (hops > 40) {
            return null;
        }
        List<String> at = target.startsWith("/") ? new ArrayList<>() : new ArrayList<>(dir);
        for (String c : target.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (!at.isEmpty()) {
                    at.remove(at.size() - 1);
                }
                continue;
            }
            at.add(c);
            if (lookup(image, at) instanceof Leaf l && l.node() instanceof Symlink link) {
                at.remove(at.size() - 1);
                at = resolve(image, at, link.target(), hops + 1);
                if (at == null) {
                    return null;
                }
            }
        }
        return at;
    }

    /**
     * The directory at path, made (with implied metadata) where missing, as extracting into a
     * symlink's target makes it; null if a component is not a directory.
     */
    private static Dir directories(Dir root, List<String> path) {
        Dir d = root;
        for (String c : path) {
            Entry e = d.children.get(c);
            if (e == null) {
                Dir made = new Dir(implied());
                d.children.put(c, made);
                d = made;
            } else if (e instanceof Dir sub) {
                d = sub;
            } else {
                return null;
            }
        }
        return d;
    }

    /** The entry at path below root, or null. */
    static Entry lookup(Dir root, List<String> path) {
        Entry e = root;
        for (String c : path) {
            if (!(e instanceof Dir d)) {
                return null;
            }
            e = d.children.get(c);
        }
        return e;
    }

    /** The metadata of a directory no layer describes: root's, 0755. */
    static Meta implied() {
        return new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 1, null);
    }

    static String printable(String latin1) {
        return Escaping.printable(latin1);
    }
}
