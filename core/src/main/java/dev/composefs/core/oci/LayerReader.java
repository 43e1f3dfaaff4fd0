package dev.composefs.core.oci;

import dev.composefs.bindings.sys_stat_h;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.oci.LayerTree.Dir;
import dev.composefs.core.oci.LayerTree.Entry;
import dev.composefs.core.oci.LayerTree.Leaf;
import dev.composefs.core.oci.LayerTree.Link;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.scan.ScanOptions;
import dev.composefs.core.tar.TarEntry;
import dev.composefs.core.tar.TarReader;
import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Fifo;
import dev.composefs.core.tree.Limits;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.Xattrs;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns one layer's tar into a {@link LayerTree}: regular files over the inline limit go into
 * the object store by fs-verity digest as they stream past, smaller ones stay in the tree;
 * whiteouts and opaque markers are noted on their directory, never entered as files.
 */
final class LayerReader {
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final String META_PREFIX = ".wh..wh.";

    /** Counts shared by the readers of all layers. */
    record Counters(AtomicLong files, AtomicLong added, AtomicLong addedBytes, AtomicLong shared,
            AtomicLong sharedBytes) {
        Counters() {
            this(new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong());
        }
    }

    /**
     * Where files are hashed and stored off the thread that decompresses and reads the tar, so
     * the two overlap; buffered bytes are bounded by the permits (KiB) of {@code memory}.
     */
    record Hashers(ExecutorService pool, Semaphore memory) {
        /** Files up to this size go to a hasher; larger ones are streamed by the reading thread. */
        static final int HANDOFF_MAX = 1 << 20;
    }

    private final OciImport.Options options;
    private final ObjectStore store;
    private final Counters counters;
    private final String what;
    private final Hashers hashers;

    LayerReader(OciImport.Options options, ObjectStore store, Counters counters, String what, Hashers hashers) {
        this.options = options;
        this.store = store;
        this.counters = counters;
        this.what = what;
        this.hashers = hashers;
    }

    Dir read(TarReader tar) throws IOException {
        Dir root = new Dir(null);
        for (TarEntry e; (e = tar.next()) != null; ) {
            List<String> path = LayerTree.components(e.name(), what);
            if (path.isEmpty()) {
                if (e.type() != TarEntry.DIRECTORY) {
                    throw new IOException(what + ": member " + LayerTree.printable(e.name()) + " is the root but not a directory");
                }
                root.meta = meta(e, Meta.S_IFDIR);
                continue;
            }
            Dir parent = parent(root, path, e.name());
            String name = path.get(path.size() - 1);
            checkName(name, e.name());
            if (name.startsWith(WHITEOUT)) {
                if (name.equals(OPAQUE)) {
                    parent.opaque = true;
                } else if (!name.startsWith(META_PREFIX)) { // other .wh..wh. names are aufs bookkeeping
                    parent.whiteouts.add(name.substring(WHITEOUT.length()));
                }
                continue;
            }
            if (e.type() == TarEntry.DIRECTORY) {
                if (parent.children.get(name) instanceof Dir existing) {
                    existing.meta = meta(e, Meta.S_IFDIR);
                } else {
                    parent.children.put(name, new Dir(meta(e, Meta.S_IFDIR)));
                }
                continue;
            }
            Entry entry = switch (e.type()) {
                case TarEntry.HARDLINK -> link(root, new Link(LayerTree.components(e.linkName(), what), e.name()));
                case TarEntry.REGULAR -> file(e, tar.content());
                case TarEntry.SYMLINK -> new Leaf(symlink(e));
                case TarEntry.CHAR -> new Leaf(new Device(meta(e, Meta.S_IFCHR), sys_stat_h.makedev(e.devMajor(), e.devMinor())));
                case TarEntry.BLOCK -> new Leaf(new Device(meta(e, Meta.S_IFBLK), sys_stat_h.makedev(e.devMajor(), e.devMinor())));
                case TarEntry.FIFO -> new Leaf(new Fifo(meta(e, Meta.S_IFIFO)));
                default -> throw new IOException(what + ": " + LayerTree.printable(e.name()) + ": unexpected type " + e.type());
            };
            parent.children.put(name, entry);
        }
        settle(root);
        return root;
    }

    /** Waits for the files handed to hashers and puts them in place. */
    private void settle(Dir d) throws IOException {
        for (var e : d.children.entrySet()) {
            if (e.getValue() instanceof Dir sub) {
                settle(sub);
            } else if (e.getValue() instanceof LayerTree.Pending p) {
                e.setValue(new Leaf(await(p.node())));
            }
        }
    }

    private static Node await(Future<Node> f) throws IOException {
        try {
            return f.get();
        } catch (ExecutionException x) {
            if (x.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(x.getCause());
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /**
     * A hardlink to a file this layer has put there so far is that file's entry itself (the
     * same inode, whatever the layer later puts under the name); one to a lower layer's file
     * stays a Link until the merge.
     */
    private Entry link(Dir root, Link link) throws IOException {
        LayerTree.Entry inLayer = LayerTree.lookup(root, link.target());
        if (inLayer instanceof Link lower) {
            return lower; // a further name for a lower layer's file
        }
        return inLayer == null ? link : LayerTree.target(root, link, what);
    }

    private Dir parent(Dir root, List<String> path, String member) throws IOException {
        Dir d = root;
        for (int i = 0; i < path.size() - 1; i++) {
            Entry next = d.children.get(path.get(i));
            if (next == null) {
                Dir created = new Dir(null);
                d.children.put(path.get(i), created);
                d = created;
            } else if (next instanceof Dir sub) {
                d = sub;
            } else {
                throw new IOException(what + ": member " + LayerTree.printable(member) + ": "
                        + LayerTree.printable(String.join("/", path.subList(0, i + 1))) + " is not a directory in this layer");
            }
        }
        return d;
    }

    private void checkName(String name, String member) throws IOException {
        if (name.length() > Limits.NAME_MAX) {
            throw new IOException(what + ": member " + LayerTree.printable(member) + ": name longer than "
                    + Limits.NAME_MAX + " bytes");
        }
        if (name.indexOf('\0') >= 0) {
            throw new IOException(what + ": member " + LayerTree.printable(member) + ": NUL byte in name");
        }
    }

    private Entry file(TarEntry e, InputStream content) throws IOException {
        Meta meta = meta(e, Meta.S_IFREG);
        long size = e.size();
        counters.files().incrementAndGet();
        if (size == 0) {
            return new Leaf(RegularFile.empty(meta));
        }
        String source = what + ": " + LayerTree.printable(e.name());
        if (size <= ScanOptions.UPSTREAM_INLINE_LIMIT) {
            byte[] bytes = readAll(content, size, source);
            byte[] digest = FsVerity.of(bytes);
            return new Leaf(RegularFile.stored(meta, size, bytes, digest));
        }
        if (size > Hashers.HANDOFF_MAX) {
            return new Leaf(stored(meta, size, store.put(new ObjectStore.FromStream(content, size), source)));
        }
        byte[] bytes = readAll(content, size, source);
        int permits = (int) ((size + 1023) / 1024);
        try {
            hashers.memory().acquire(permits);
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        try {
            return new LayerTree.Pending(hashers.pool().submit(() -> {
                try {
                    byte[] digest = FsVerity.of(bytes);
                    return stored(meta, size, store.put(new ObjectStore.FromBytes(bytes, digest), source));
                } finally {
                    hashers.memory().release(permits);
                }
            }));
        } catch (RejectedExecutionException x) {
            hashers.memory().release(permits);
            throw new IOException(what + ": import stopped");
        }
    }

    private static byte[] readAll(InputStream content, long size, String source) throws IOException {
        byte[] bytes = content.readNBytes((int) size);
        if (bytes.length != size) {
            throw new IOException(source + ": archive ends inside the file");
        }
        return bytes;
    }

    private Node stored(Meta meta, long size, ObjectStore.Stored stored) {
        if (stored.added()) {
            counters.added().incrementAndGet();
            counters.addedBytes().addAndGet(size);
        } else {
            counters.shared().incrementAndGet();
            counters.sharedBytes().addAndGet(size);
        }
        return RegularFile.stored(meta, size, null, stored.digest());
    }

    private Node symlink(TarEntry e) throws IOException {
        String target = e.linkName();
        if (target.isEmpty() || target.length() >= Limits.PATH_MAX || target.indexOf('\0') >= 0) {
            throw new IOException(what + ": symlink " + LayerTree.printable(e.name()) + ": invalid target");
        }
        // Linux symlinks always show 0777, whatever the archive says.
        Meta m = meta(e, Meta.S_IFLNK);
        return new Symlink(m.withMode(Meta.S_IFLNK | 0777), target);
    }

    private Meta meta(TarEntry e, int type) throws IOException {
        Xattrs x = new Xattrs();
        if (!options.skipXattrs()) {
            for (var kv : e.xattrs().entrySet()) {
                if (options.userXattrs() && !kv.getKey().startsWith("user.")) {
                    continue;
                }
                x.put(kv.getKey(), kv.getValue());
            }
            String problem = Limits.xattrProblem(x);
            if (problem != null) {
                throw new IOException(what + ": " + LayerTree.printable(e.name()) + ": " + problem);
            }
        }
        if (e.uid() > 0xffffffffL || e.gid() > 0xffffffffL) {
            throw new IOException(what + ": " + LayerTree.printable(e.name()) + ": uid or gid beyond 32 bits");
        }
        boolean epoch = options.useEpoch();
        return new Meta(type | e.mode(), (int) e.uid(), (int) e.gid(), epoch ? 0 : e.mtimeSec(),
                epoch ? 0 : e.mtimeNsec(), 1, x);
    }
}
