package dev.composefs.core.descriptor;

import dev.composefs.core.Assets;
import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Fifo;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Socket;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.Xattrs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** Test trees and the transformations that express what a descriptor cannot carry. */
final class Trees {
    private Trees() {}

    /** The conformance dumps present in ../shared that upstream accepts (no should-fail-*). */
    static List<String> conformanceDumps() throws IOException {
        try (var files = Files.list(Assets.dir())) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> (n.endsWith(".dump") || n.endsWith(".dump.gz")) && !n.startsWith("should-fail"))
                    .sorted().toList();
        }
    }

    static Directory conformance(String name) throws IOException {
        return DumpReader.parse(Assets.dump(name), false);
    }

    /**
     * Rebuilds a tree, applying {@code f} to every inode (directories get their entries back
     * afterwards) and keeping hardlinks pointing at the rebuilt inode, held by its first name.
     */
    static Directory map(Directory root, UnaryOperator<Node> f) {
        Map<Node, Node> done = new IdentityHashMap<>();
        return (Directory) rebuild(root, f, done);
    }

    private static Node rebuild(Node n, UnaryOperator<Node> f, Map<Node, Node> done) {
        // Canonical like the readers: the first name depth-first holds the inode, later ones link to it.
        Node inode = n instanceof Hardlink h ? h.target() : n;
        Node prior = done.get(inode);
        if (prior != null) {
            return new Hardlink(prior);
        }
        Node out = f.apply(inode);
        done.put(inode, out);
        if (inode instanceof Directory d) {
            Directory nd = (Directory) out;
            nd.entries().clear();
            for (var e : d.entries().entrySet()) {
                nd.entries().put(e.getKey(), rebuild(e.getValue(), f, done));
            }
        }
        return out;
    }

    static Node withMeta(Node n, Meta m) {
        return switch (n) {
            case Directory d -> new Directory(m);
            case RegularFile r -> new RegularFile(m, r.size(), r.content(), r.payload(), r.digest());
            case Symlink s -> new Symlink(m, s.target());
            case Device d -> new Device(m, d.rdev());
            case Fifo x -> new Fifo(m);
            case Socket x -> new Socket(m);
            case Hardlink h -> throw new IllegalArgumentException("hardlinks carry no meta of their own");
        };
    }

    /**
     * Inline content moved out to backing files named by its fs-verity digest, as mkcomposefs
     * --format=descriptor does: then the tree is one a descriptor can hold.
     */
    static Directory externalizeInline(Directory root) {
        return map(root, n -> {
            if (n instanceof RegularFile r && r.content() != null && r.content().length > 0) {
                byte[] digest = FsVerity.of(r.content());
                return new RegularFile(r.meta(), r.size(), null, ObjectStore.objectPath(digest), digest);
            }
            return n instanceof Directory d ? new Directory(d.meta()) : n;
        });
    }

    /**
     * A device number as the driver keeps it: the kernel's dev_t holds a 12-bit major and a
     * 20-bit minor (glibc's makedev packing undone and redone here, written out for the test).
     */
    static long kernelDevRoundTrip(long rdev) {
        long major = ((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL);
        long minor = ((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL);
        major &= 0xfff;
        minor &= 0xfffff;
        return (major << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    /**
     * What the driver shows for a tree, i.e. the listed limits of the format: nlink only for
     * regular files (directories 2 + subdirectories, everything else 1), mode in 16 bits, rdev
     * in 32 bits.
     */
    static Directory driverView(Directory root) {
        return map(root, n -> {
            Meta m = n.meta();
            int nlink = switch (n) {
                case RegularFile r -> m.nlink();
                case Directory d -> 2 + (int) d.entries().values().stream().filter(c -> c instanceof Directory).count();
                default -> 1;
            };
            // a descriptor holds xattrs sorted by name, whatever order the tree had them in
            Xattrs sorted = new Xattrs();
            m.xattrs().entries().stream().sorted(java.util.Map.Entry.comparingByKey())
                    .forEach(e -> sorted.put(e.getKey(), e.getValue()));
            Meta v = new Meta(m.mode() & 0xffff, m.uid(), m.gid(), m.mtimeSec(), m.mtimeNsec(), nlink, sorted);
            Node out = withMeta(n, v);
            return out instanceof Device d ? new Device(d.meta(), kernelDevRoundTrip(d.rdev())) : out;
        });
    }

    /** Drops the marks format 1 puts on directories that hold whiteouts (trusted. and user.overlay.opaque=x). */
    static Directory withoutWhiteoutMarks(Directory root) {
        return map(root, n -> {
            if (n instanceof Directory d && d.entries().values().stream()
                    .anyMatch(c -> c instanceof Device dev && dev.isWhiteout())) {
                Xattrs x = d.meta().xattrs().copy();
                x.remove("trusted.overlay.opaque");
                x.remove("user.overlay.opaque");
                Meta m = d.meta();
                return new Directory(new Meta(m.mode(), m.uid(), m.gid(), m.mtimeSec(), m.mtimeNsec(), m.nlink(), x));
            }
            return n instanceof Directory d ? new Directory(d.meta()) : n;
        });
    }

    static String dump(Directory root, DumpWriter.DirectorySize sizes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DumpWriter.write(root, out, sizes);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    static String erofsDump(Directory root) throws IOException {
        return dump(root, d -> ErofsWriter.directorySize(d, d == root));
    }

    static String dump(DescriptorReader.Descriptor d) throws IOException {
        return dump(d.root(), dir -> d.directorySizes().get(dir));
    }

    /** A tree with every inode type, hardlinks, shared and unshared xattrs, odd names and deep nesting. */
    static Directory everything() {
        Directory root = new Directory(meta(Meta.S_IFDIR | 0755, 2, x("security.selinux", "system_u:object_r:root_t")));
        Directory etc = new Directory(meta(Meta.S_IFDIR | 0750, 2, x("user.a", "1", "user.b", "")));
        root.entries().put("etc", etc);
        byte[] d1 = digest(1);
        RegularFile big = new RegularFile(meta(Meta.S_IFREG | 0644, 3, x("user.a", "1", "user.b", "")), 1 << 20, null,
                ObjectStore.objectPath(d1), d1);
        etc.entries().put("passwd", big);
        etc.entries().put("passwd-link", new Hardlink(big));
        root.entries().put("a-link-before-its-inode", new Hardlink(big));
        etc.entries().put("no-digest", new RegularFile(meta(Meta.S_IFREG | 0600, 1, null), 4096, null,
                "de/adbeef", null));
        etc.entries().put("empty", new RegularFile(meta(Meta.S_IFREG | 0400, 1, null), 0, null, null, null));
        etc.entries().put("sparse-without-backing", new RegularFile(meta(Meta.S_IFREG | 0644, 1, null), 77, null,
                null, null));
        root.entries().put("sym", new Symlink(meta(Meta.S_IFLNK | 0777, 1, null), "etc/passwd"));
        root.entries().put("long-target", new Symlink(meta(Meta.S_IFLNK | 0777, 1, null), "x".repeat(4095)));
        root.entries().put("null", new Device(meta(Meta.S_IFCHR | 0666, 1, null), (1 << 8) | 3));
        root.entries().put("sda", new Device(meta(Meta.S_IFBLK | 0660, 1, null), (8 << 8) | 0));
        root.entries().put("wh", new Device(meta(Meta.S_IFCHR, 1, x("trusted.overlay.opaque", "y")), 0));
        root.entries().put("fifo", new Fifo(meta(Meta.S_IFIFO | 0644, 1, null)));
        root.entries().put("sock", new Socket(meta(Meta.S_IFSOCK | 0755, 1, null)));
        root.entries().put("empty-dir", new Directory(meta(Meta.S_IFDIR | 01777, 2, null)));
        root.entries().put("n" + "\u00e9\u00ff\n\t " + "m", new Fifo(meta(Meta.S_IFIFO, 1, null)));
        root.entries().put("y".repeat(255), new Fifo(meta(Meta.S_IFIFO, 1, null)));
        // names sharing a prefix: memcmp order puts the shorter first
        for (String n : new String[] {"ab", "a", "abc", "B", "\u0080", "~"}) {
            etc.entries().put(n, new Socket(meta(Meta.S_IFSOCK | 0644, 1, null)));
        }
        Directory deep = root;
        for (int i = 0; i < 300; i++) {
            Directory d = new Directory(meta(Meta.S_IFDIR | 0755, 2, null));
            deep.entries().put("d" + i, d);
            deep = d;
        }
        Xattrs many = new Xattrs();
        for (int i = 0; i < 200; i++) {
            many.put("user.k" + i, ("v" + i).getBytes(StandardCharsets.ISO_8859_1));
        }
        many.put("trusted.overlay.redirect", "/user/value".getBytes(StandardCharsets.ISO_8859_1));
        many.put("system.posix_acl_access", new byte[] {2, 0, 0, 0, 1, 0, 6, 0, -1, -1, -1, -1});
        deep.entries().put("leaf", new RegularFile(new Meta(Meta.S_IFREG | 04755, 0, 65534, -1L, 999_999_999, 1, many),
                1L << 40, null, "zz/not-a-digest-path", digest(2)));
        return root;
    }

    private static Meta meta(int mode, int nlink, Xattrs x) {
        return new Meta(mode, 1000, 1000, 1_700_000_000L, 123_456_789, nlink, x);
    }

    private static Xattrs x(String... kv) {
        Xattrs x = new Xattrs();
        for (int i = 0; i < kv.length; i += 2) {
            x.put(kv[i], kv[i + 1].getBytes(StandardCharsets.ISO_8859_1));
        }
        return x;
    }

    private static byte[] digest(int seed) {
        byte[] d = new byte[32];
        for (int i = 0; i < 32; i++) {
            d[i] = (byte) (seed * 31 + i * 7);
        }
        return d;
    }
}
