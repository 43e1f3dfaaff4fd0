package dev.composefs.core.scan;

import static dev.composefs.bindings.fcntl_h.AT_FDCWD;
import static dev.composefs.bindings.fcntl_h.AT_SYMLINK_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_DIRECTORY;
import static dev.composefs.bindings.fcntl_h.O_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_NONBLOCK;
import static dev.composefs.bindings.fcntl_h.O_PATH;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.dirent_h;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.sys_stat_h.Statx;
import dev.composefs.bindings.sys_xattr_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fsverity.FdDigester;
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
import dev.composefs.core.util.Parallel;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads a directory tree into the composefs tree model the way upstream's mkcomposefs does:
 * statx and xattrs of every entry without following symlinks, regular files of at most 64 bytes
 * (the options' inline limit) inlined, every non-empty regular file referenced by its fs-verity digest ({@code XX/<62 hex>})
 * and, with a store, copied into it. Digests and copies run on worker threads; a file that
 * already has fs-verity is measured by the kernel instead of being read.
 */
public final class DirectoryScanner {
    private static final int STATX_MASK = sys_stat_h.STATX_BASIC_STATS;
    private static final byte[] USER_PREFIX = "user.".getBytes(StandardCharsets.US_ASCII);

    /** The tree and what the scan did. */
    public record Result(Directory root, long entries, long files, long bytes, long stored) {}

    /**
     * One inode as the walk found it, until its node is in the tree: the walk places every
     * node it can make at once (directories, symlinks, devices, empty files), a worker the
     * regular file whose digest it computed; xattrs arrive later, into the meta the node shares.
     * So a Found dies young, in flight from the walk to a worker: kept until the tree is
     * assembled at the end, they would be promoted and stay in the old generation (with their
     * child lists) through the image writer, at the peak of RSS.
     * Its path is its parent chain, not a byte array per entry: paths of deep trees grow with
     * depth, and a tree 5000 levels deep would hold gigabytes of them.
     */
    private static final class Found {
        final Found parent;
        final String name; // raw bytes as Latin-1, see Node
        // From the walk's statx; for a regular file (by its d_type) without --hardlinks, from the
        // statx of the fd its worker opens: set by that worker before anything reads them.
        Meta meta; // nlink 1: further names found by --hardlinks are counted in links
        long size;
        boolean verity;
        Directory dir; // a directory's node, which its entries are put into as they are made
        // --hardlinks: the first name of an inode is placed once the walk has counted its names
        boolean leader;
        Found sameInodeAs;
        int links = 1;
        Node node;

        Found(Found parent, String name, Meta meta, long size, boolean verity) {
            this.parent = parent;
            this.name = name;
            this.meta = meta;
            this.size = size;
            this.verity = verity;
        }

        /** A regular file whose metadata its worker reads from the fd it opens (see {@link #stated}). */
        Found(Found parent, String name) {
            this.parent = parent;
            this.name = name;
        }

        /** Whether the walk took this entry's statx; else the worker does, from the open file. */
        boolean stated() {
            return meta != null;
        }

        int type() {
            return meta.type();
        }

        /** The path from the source root down to this entry, as raw bytes (empty for the root); one array per call. */
        @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a Latin-1 string's bytes, copied as they are
        byte[] relPath() {
            int length = -1;
            for (Found x = this; x.parent != null; x = x.parent) {
                length += x.name.length() + 1;
            }
            byte[] path = new byte[Math.max(length, 0)];
            int end = path.length;
            for (Found x = this; x.parent != null; x = x.parent) {
                int start = end - x.name.length();
                x.name.getBytes(0, x.name.length(), path, start);
                if (start > 0) {
                    path[start - 1] = '/';
                }
                end = start - 1;
            }
            return path;
        }
    }

    /**
     * The longest path handed to one openat2: deeper entries are reached through intermediate
     * directory fds, since a path longer than PATH_MAX (4096) fails with ENAMETOOLONG.
     */
    private static final int PATH_CHUNK = 3072;

    /** Files up to this size are copied into the store from the bytes the digest pass read. */
    private static final int IN_MEMORY_COPY = FdDigester.HOLD_MAX;

    private record InodeKey(int devMajor, int devMinor, long ino) {}

    /** The walk's own native memory: its calls' scratch and its getdents64 buffer. */
    private record WalkMemory(Scratch scratch, MemorySegment dirents) {}

    private final Path source;
    private final ScanOptions options;
    private final ObjectStore store;
    private final Progress progress;
    private final Map<InodeKey, Found> inodes = new HashMap<>();
    private final List<Found> followers = new ArrayList<>(); // further names of the inodes
    private final AtomicLong toDigest = new AtomicLong();
    private final AtomicLong bytesToDigest = new AtomicLong();
    private volatile long entries; // written by the walk only, read for the progress line
    private final AtomicLong digested = new AtomicLong();
    private final AtomicLong bytesDone = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();
    // Where a large file's worker offers parts of its hashing to the others (with more than one).
    private final Parallel.Sharing<FdDigester> sharing;

    private DirectoryScanner(Path source, ScanOptions options, ObjectStore store, Progress progress) {
        this.source = source;
        this.options = options;
        this.store = store;
        this.progress = progress;
        this.sharing = options.threads() > 1 ? new Parallel.Sharing<>() : null;
    }

    /** Scans source; with a store (may be null) every backing file is also put into it. */
    public static Result scan(Path source, ScanOptions options, ObjectStore store, Progress progress)
            throws IOException {
        return new DirectoryScanner(source, options, store, progress).run();
    }

    /**
     * A scan into store (or none) as one batch: its new objects made durable by one syncfs and
     * only then named, before any image can name them.
     */
    public static Directory ingest(Path source, ScanOptions options, ObjectStore store, Progress progress)
            throws IOException {
        if (store != null) {
            store.beginBatch();
        }
        Directory root = scan(source, options, store, progress).root();
        if (store != null) {
            store.commit(options.threads());
        }
        return root;
    }

    private Result run() throws IOException {
        byte[] src = source.toString().getBytes(StandardCharsets.UTF_8);
        Found root;
        int rootFd;
        try {
            root = found(null, "", sys_stat_h.statx(AT_FDCWD, src, AT_SYMLINK_NOFOLLOW, STATX_MASK));
            if (root.type() != sys_stat_h.S_IFDIR) {
                throw new IOException(source + ": not a directory (a symlink is not followed)");
            }
            root.dir = new Directory(root.meta);
            rootFd = fcntl_h.openat(AT_FDCWD, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new IOException("error accessing " + source + ": " + e.getMessage(), e);
        }
        // the walk's native memory: it is the producer, on this thread
        try (Arena walkArena = Arena.ofConfined(); Scratch walkScratch = Scratch.open()) {
            WalkMemory memory = new WalkMemory(walkScratch, dirent_h.buffer(walkArena));
            // Workers read every entry's xattrs and every backed file's content, most of the
            // syscalls, while the walk (one thread, statx of every entry) is still going: the
            // other cores were idle for its length (a quarter of a digest-only run).
            Parallel.<FdDigester, Found>forEachProduced(sink -> {
                sink.add(root);
                walk(rootFd, root, sink, memory);
            }, options.threads(), FdDigester::new, (dg, f) -> {
                if (!f.stated() || f.type() == sys_stat_h.S_IFREG && f.size > 0 && f.sameInodeAs == null) {
                    digest(dg, rootFd, f); // reads the xattrs through the fd it opens anyway
                } else {
                    xattrs(dg.scratch(), rootFd, f);
                }
            }, sharing);
        } finally {
            unistd_h.closeQuietly(rootFd);
            progress.clear();
        }
        placeHardlinks();
        return new Result(root.dir, entries, toDigest.get(), bytesDone.get(), stored.get());
    }

    /**
     * Reads dir's entries (sorted, statx of each) depth first, handing each to the sink once
     * the workers may take it: its type, hardlink leader and size are known.
     */
    private void walk(int dirFd, Found dir, Parallel.Sink<Found> sink, WalkMemory memory) throws IOException {
        Scratch scratch = memory.scratch();
        List<dirent_h.Entry> list;
        try {
            list = dirent_h.readAll(scratch, dirFd, memory.dirents(), "directory"); // failure() names the path
        } catch (SyscallException e) {
            throw failure(dir, e);
        }
        list.sort((a, b) -> Arrays.compareUnsigned(a.name(), b.name())); // strcmp order, as the image has it
        for (dirent_h.Entry e : list) {
            byte[] name = e.name();
            if (e.type() == dirent_h.DT_REG && !options.hardlinks()) {
                // Its worker opens it anyway: statx of that fd resolves no path, where the walk's
                // statx by name would look it up a second time.
                entries++;
                if (progress.enabled()) {
                    progress.update(progressLine());
                }
                sink.add(new Found(dir, new String(name, StandardCharsets.ISO_8859_1)));
                continue;
            }
            Statx st = statx(scratch, dirFd, name, dir, name);
            int type = st.type();
            if (options.skipDevices() && (type == sys_stat_h.S_IFCHR || type == sys_stat_h.S_IFBLK)) {
                continue;
            }
            Found f = found(dir, new String(name, StandardCharsets.ISO_8859_1), st);
            entries++;
            if (progress.enabled()) {
                progress.update(progressLine());
            }
            if (type == sys_stat_h.S_IFDIR) {
                f.dir = new Directory(f.meta);
                place(f, f.dir);
                sink.add(f);
                int fd = open(scratch, dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, f);
                try {
                    walk(fd, f, sink, memory);
                } finally {
                    unistd_h.closeQuietly(scratch, fd);
                }
                continue;
            }
            if (options.hardlinks() && st.nlink() > 1) {
                Found first = inodes.putIfAbsent(new InodeKey(st.devMajor(), st.devMinor(), st.ino()), f);
                if (first != null) {
                    f.sameInodeAs = first;
                    first.links++;
                    followers.add(f);
                    sink.add(f);
                    continue;
                }
                f.leader = true;
            }
            Node n = switch (type) {
                case sys_stat_h.S_IFREG -> {
                    if (st.size() == 0) {
                        yield RegularFile.empty(f.meta);
                    }
                    toDigest.incrementAndGet();
                    bytesToDigest.addAndGet(st.size());
                    yield null; // a worker makes it, with the digest
                }
                case sys_stat_h.S_IFLNK -> {
                    try {
                        yield new Symlink(f.meta,
                                new String(unistd_h.readlinkat(scratch, dirFd, name), StandardCharsets.ISO_8859_1));
                    } catch (SyscallException ex) {
                        throw failure(f, ex);
                    }
                }
                case sys_stat_h.S_IFCHR, sys_stat_h.S_IFBLK -> new Device(f.meta, st.rdev());
                case sys_stat_h.S_IFIFO -> new Fifo(f.meta);
                case sys_stat_h.S_IFSOCK -> new Socket(f.meta);
                default -> throw new IOException("error accessing " + source + "/" + display(f.relPath())
                        + ": unknown file type " + Integer.toOctalString(f.meta.mode()));
            };
            if (n != null) {
                place(f, n);
            }
            sink.add(f);
        }
    }

    /** The entry as the tree keeps it, from its statx. */
    private Found found(Found parent, String name, Statx st) {
        return new Found(parent, name, meta(st), st.size(), st.isVerity());
    }

    private Meta meta(Statx st) {
        boolean epoch = options.useEpoch();
        return new Meta(st.mode(), st.uid(), st.gid(), epoch ? 0 : st.mtimeSec(), epoch ? 0 : st.mtimeNsec(), 1,
                new Xattrs());
    }

    /**
     * f, a regular file by its d_type, that its worker may not open for reading: fine if it is
     * empty (like upstream, only content is read), else the error denied.
     */
    private void unreadable(Scratch scratch, int rootFd, Found f, SyscallException denied) throws IOException {
        Statx st;
        try {
            int fd = openBeneath(scratch, rootFd, f.relPath(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
            try {
                st = sys_stat_h.statx(scratch, fd, STATX_MASK);
            } finally {
                unistd_h.closeQuietly(scratch, fd);
            }
        } catch (SyscallException e) {
            throw failure(f, e);
        }
        if (st.type() != sys_stat_h.S_IFREG || st.size() != 0) {
            throw failure(f, denied);
        }
        f.meta = meta(st);
        xattrs(scratch, rootFd, f);
        place(f, RegularFile.empty(f.meta));
    }

    /**
     * Takes the statx of f, a regular file by its d_type, from fd, the file its worker opened;
     * true if it has content to digest. An empty one is placed at once.
     */
    private boolean stat(Scratch scratch, int fd, Found f, String what) throws IOException {
        Statx st;
        try {
            st = sys_stat_h.statx(scratch, fd, STATX_MASK);
        } catch (SyscallException e) {
            throw failure(f, e);
        }
        if (st.type() != sys_stat_h.S_IFREG) {
            throw new IOException(what + ": changed during the scan (a regular file, then mode "
                    + Integer.toOctalString(st.mode()) + ")");
        }
        f.meta = meta(st);
        f.size = st.size();
        f.verity = st.isVerity();
        if (f.size == 0) {
            xattrsOf(scratch, fd, f, what);
            place(f, RegularFile.empty(f.meta));
            return false;
        }
        toDigest.incrementAndGet();
        bytesToDigest.addAndGet(f.size);
        return true;
    }

    /**
     * Puts f's node into its directory's node, from the walk or a worker (so under the
     * directory's lock); a --hardlinks leader waits for {@link #placeHardlinks}.
     */
    private static void place(Found f, Node n) {
        f.node = n;
        if (f.parent == null || f.leader) {
            return;
        }
        Directory d = f.parent.dir;
        synchronized (d) {
            d.entries().put(f.name, n);
        }
    }

    /**
     * Places the first name of every inode --hardlinks found names of, with nlink counting
     * them, and the further names as hardlinks to it: once the walk and the workers are done.
     */
    private void placeHardlinks() {
        for (Found leader : inodes.values()) {
            leader.leader = false;
            place(leader, Node.withNlink(leader.node, leader.links));
        }
        for (Found f : followers) {
            place(f, new Hardlink(f.sameInodeAs.node));
        }
    }

    private void digest(FdDigester dg, int rootFd, Found f) throws IOException {
        byte[] rel = f.relPath();
        String what = source + "/" + display(rel);
        Scratch scratch = dg.scratch();
        int fd;
        try {
            // O_NONBLOCK: a FIFO put in a file's place since the walk saw it fails the type check, not hangs
            fd = openBeneath(scratch, rootFd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        } catch (SyscallException e) {
            if (!f.stated() && e.is(Errno.EACCES)) {
                unreadable(scratch, rootFd, f, e);
                return;
            }
            throw failure(f, e);
        }
        try {
            if (!f.stated() && !stat(scratch, fd, f, what)) {
                return;
            }
            xattrsOf(scratch, fd, f, what);
            long size = f.size;
            int inline = options.inlineLimit();
            byte[] measured = f.verity && size > inline ? FdDigester.measured(fd, what) : null;
            byte[] digest;
            byte[] content = null;
            // Where the store cannot share extents, a small file's bytes are kept from the digest
            // pass and written from memory: one read and one hash, and what is stored is exactly
            // what was hashed (no read-back of the copy).
            boolean fromMemory = store != null && measured == null && size <= IN_MEMORY_COPY && !store.reflinks();
            MemorySegment held = null;
            boolean added = false;
            ObjectStore.Stored copied = null;
            if (measured == null && store != null && size > IN_MEMORY_COPY && store.copyFirst()) {
                copied = store.put(new ObjectStore.FromFd(fd, size, null, dg), what); // null: the store cannot, hash first
            }
            if (copied != null) {
                digest = copied.digest();
                added = copied.added();
            } else if (measured != null) {
                digest = measured;
            } else {
                // a file held for the store (fromMemory) is at most 1 MiB: never one hashed in parts
                FdDigester.Result r = FdDigester.sharesHashing(sharing, size)
                        ? dg.digestShared(fd, size, sharing, what)
                        : dg.digest(fd, size, inline, fromMemory, what);
                if (r.size() != size) {
                    throw new IOException(what + ": changed during the scan (" + size + " bytes, then " + r.size() + ")");
                }
                digest = r.digest();
                content = r.content();
                held = fromMemory ? dg.held() : null;
            }
            // Inline files live in the image itself; like upstream, only backed files go to the store.
            if (store != null && size > inline && copied == null) {
                added = store.put(held != null ? new ObjectStore.FromMemory(held, digest, scratch)
                        : new ObjectStore.FromFd(fd, size, digest, dg), what).added();
            }
            if (added) {
                stored.incrementAndGet();
            }
            place(f, RegularFile.stored(f.meta, size, content, digest));
            bytesDone.addAndGet(size);
            digested.incrementAndGet();
            if (progress.enabled()) {
                progress.update(progressLine());
            }
        } finally {
            unistd_h.closeQuietly(scratch, fd);
        }
    }

    /** One line for the walk and the workers alike: they run at the same time. */
    private String progressLine() {
        return "scanning: " + entries + " entries; digested " + digested.get() + " files, "
                + Progress.bytes(bytesDone.get()) + " of " + Progress.bytes(bytesToDigest.get()) + " found"
                + (store != null ? ", " + stored.get() + " new objects" : "");
    }

    /** Reads f's xattrs into its meta. */
    private void xattrs(Scratch scratch, int rootFd, Found f) throws IOException {
        if (options.skipXattrs()) {
            return;
        }
        // Like upstream: an O_PATH fd reaches any inode type (a symlink too), /proc/self/fd names it.
        int fd;
        try {
            fd = openBeneath(scratch, rootFd, f.relPath(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        } catch (SyscallException e) {
            throw failure(f, e);
        }
        try {
            String proc = "/proc/self/fd/" + fd;
            filtered(f.meta.xattrs(), sys_xattr_h.listxattr(scratch, proc), key -> sys_xattr_h.getxattr(scratch, proc, key));
        } catch (SyscallException e) {
            throw failure(f, e);
        } finally {
            unistd_h.closeQuietly(scratch, fd);
        }
    }

    /** Reads the xattrs of a file open for reading into its meta: flistxattr on its fd, no path to resolve. */
    private void xattrsOf(Scratch scratch, int fd, Found f, String what) throws IOException {
        if (options.skipXattrs()) {
            return;
        }
        try {
            filtered(f.meta.xattrs(), sys_xattr_h.flistxattr(scratch, fd, what),
                    key -> sys_xattr_h.fgetxattr(scratch, fd, key, what));
        } catch (SyscallException e) {
            throw failure(f, e);
        }
    }

    private interface XattrGetter {
        byte[] get(byte[] key) throws SyscallException;
    }

    /** Puts into x the xattrs of these keys that the options keep (--user-xattrs: only user.*). */
    private void filtered(Xattrs x, List<byte[]> keys, XattrGetter getter) throws SyscallException {
        for (byte[] key : keys) {
            if (options.userXattrs() && !Arrays.equals(key, 0, Math.min(key.length, USER_PREFIX.length),
                    USER_PREFIX, 0, USER_PREFIX.length)) {
                continue;
            }
            x.put(new String(key, StandardCharsets.ISO_8859_1), getter.get(key));
        }
    }

    /**
     * Opens the entry at rel (its path under the source root) beneath the root through no
     * symlink (the tree cannot be redirected mid-scan), at most PATH_CHUNK bytes of path per
     * openat2, through intermediate directory fds where it lies deeper than that.
     */
    private static int openBeneath(Scratch scratch, int rootFd, byte[] rel, int flags) throws SyscallException {
        long resolve = fcntl_h.RESOLVE_BENEATH | fcntl_h.RESOLVE_NO_SYMLINKS;
        if (rel.length == 0) {
            return fcntl_h.openat(scratch, rootFd, new byte[] {'.'}, flags & ~O_NOFOLLOW, 0);
        }
        if (rel.length <= PATH_CHUNK) {
            return fcntl_h.openat2(scratch, rootFd, rel, flags, 0, resolve);
        }
        int base = rootFd;
        try {
            for (int from = 0; ; ) {
                // the longest run of whole names from here that fits (a name is at most 255 bytes)
                int to = from;
                for (int slash = from; slash <= rel.length && slash - from <= PATH_CHUNK; slash++) {
                    if (slash == rel.length || rel[slash] == '/') {
                        to = slash;
                    }
                }
                byte[] part = Arrays.copyOfRange(rel, from, to);
                if (to == rel.length) {
                    return fcntl_h.openat2(scratch, base, part, flags, 0, resolve);
                }
                int next = fcntl_h.openat2(scratch, base, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, resolve);
                if (base != rootFd) {
                    unistd_h.closeQuietly(scratch, base);
                }
                base = next;
                from = to + 1;
            }
        } finally {
            if (base != rootFd) {
                unistd_h.closeQuietly(scratch, base);
            }
        }
    }

    private Statx statx(Scratch scratch, int dirFd, byte[] name, Found dir, byte[] childName) throws IOException {
        try {
            return sys_stat_h.statx(scratch, dirFd, name, AT_SYMLINK_NOFOLLOW, STATX_MASK);
        } catch (SyscallException e) {
            throw failure(dir, childName, e);
        }
    }

    private int open(Scratch scratch, int dirFd, byte[] name, int flags, Found f) throws IOException {
        try {
            return fcntl_h.openat(scratch, dirFd, name, flags, 0);
        } catch (SyscallException e) {
            throw failure(f, e);
        }
    }

    private IOException failure(Found f, SyscallException e) {
        return failure(f, null, e);
    }

    /** An error naming the entry (f, or child of f where given) by its path under the source. */
    private IOException failure(Found f, byte[] child, SyscallException e) {
        byte[] rel = child == null ? f.relPath() : join(f.relPath(), child);
        String path = rel.length == 0 ? source.toString() : source + "/" + display(rel);
        return new IOException("error accessing " + path + ": " + e.getMessage(), e);
    }

    private static byte[] join(byte[] dir, byte[] name) {
        if (dir.length == 0) {
            return name;
        }
        byte[] r = Arrays.copyOf(dir, dir.length + 1 + name.length);
        r[dir.length] = '/';
        System.arraycopy(name, 0, r, dir.length + 1, name.length);
        return r;
    }

    private static String display(byte[] path) {
        return new String(path, StandardCharsets.UTF_8);
    }
}
