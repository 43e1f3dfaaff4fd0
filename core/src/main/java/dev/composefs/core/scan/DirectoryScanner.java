package dev.composefs.core.scan;

import static dev.composefs.bindings.fcntl_h.AT_FDCWD;
import static dev.composefs.bindings.fcntl_h.AT_SYMLINK_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_DIRECTORY;
import static dev.composefs.bindings.fcntl_h.O_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_PATH;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;

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

    /** One inode as the walk found it; digest and content arrive from the workers. */
    private static final class Found {
        final byte[] relPath;
        final Statx st;
        Xattrs xattrs;
        byte[] symlinkTarget;
        List<Map.Entry<String, Found>> children;
        Found sameInodeAs;
        int links = 1;
        byte[] digest;
        byte[] content;
        Node node;

        Found(byte[] relPath, Statx st, Xattrs xattrs) {
            this.relPath = relPath;
            this.st = st;
            this.xattrs = xattrs;
        }
    }

    private record InodeKey(int devMajor, int devMinor, long ino) {}

    private final Path source;
    private final ScanOptions options;
    private final ObjectStore store;
    private final Progress progress;
    private final Map<InodeKey, Found> inodes = new HashMap<>();
    private final List<Found> all = new ArrayList<>();
    private final List<Found> toDigest = new ArrayList<>();
    private long entries;
    private final AtomicLong digested = new AtomicLong();
    private final AtomicLong bytesDone = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();

    private DirectoryScanner(Path source, ScanOptions options, ObjectStore store, Progress progress) {
        this.source = source;
        this.options = options;
        this.store = store;
        this.progress = progress;
    }

    /** Scans source; with a store (may be null) every backing file is also put into it. */
    public static Result scan(Path source, ScanOptions options, ObjectStore store, Progress progress)
            throws IOException {
        return new DirectoryScanner(source, options, store, progress).run();
    }

    private Result run() throws IOException {
        all.clear();
        byte[] src = source.toString().getBytes(StandardCharsets.UTF_8);
        Statx st = statx(AT_FDCWD, src, new byte[0]);
        if (st.type() != sys_stat_h.S_IFDIR) {
            throw new IOException(source + ": not a directory (a symlink is not followed)");
        }
        Found root = new Found(new byte[0], st, null);
        all.add(root);
        int rootFd = open(AT_FDCWD, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC, new byte[0]);
        try {
            walk(rootFd, root);
            long total = toDigest.stream().mapToLong(f -> f.st.size()).sum();
            // Workers read every entry's xattrs and every backed file's content: most of the syscalls.
            Parallel.forEach(all, options.threads(), FdDigester::new, (dg, f) -> {
                f.xattrs = xattrs(rootFd, f.relPath);
                if (f.st.type() == sys_stat_h.S_IFREG && f.st.size() > 0 && f.sameInodeAs == null) {
                    digest(dg, rootFd, f, total);
                }
            });
        } finally {
            unistd_h.closeQuietly(rootFd);
            progress.clear();
        }
        Directory tree = (Directory) assemble(root);
        return new Result(tree, entries, toDigest.size(), bytesDone.get(), stored.get());
    }

    private void walk(int dirFd, Found dir) throws IOException {
        List<dirent_h.Entry> list;
        try {
            list = dirent_h.readAll(dirFd, display(dir.relPath));
        } catch (SyscallException e) {
            throw failure(dir.relPath, e);
        }
        list.sort((a, b) -> Arrays.compareUnsigned(a.name(), b.name())); // strcmp order, as the image has it
        dir.children = new ArrayList<>(list.size());
        for (dirent_h.Entry e : list) {
            byte[] name = e.name();
            byte[] rel = join(dir.relPath, name);
            Statx st = statx(dirFd, name, rel);
            int type = st.type();
            if (options.skipDevices() && (type == sys_stat_h.S_IFCHR || type == sys_stat_h.S_IFBLK)) {
                continue;
            }
            Found f = new Found(rel, st, null);
            all.add(f);
            dir.children.add(Map.entry(new String(name, StandardCharsets.ISO_8859_1), f));
            entries++;
            if (progress.enabled()) {
                progress.update("scanning: " + entries + " entries");
            }
            if (type == sys_stat_h.S_IFDIR) {
                int fd = open(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, rel);
                try {
                    walk(fd, f);
                } finally {
                    unistd_h.closeQuietly(fd);
                }
                continue;
            }
            if (options.hardlinks() && st.nlink() > 1) {
                Found first = inodes.putIfAbsent(new InodeKey(st.devMajor(), st.devMinor(), st.ino()), f);
                if (first != null) {
                    f.sameInodeAs = first;
                    first.links++;
                    continue;
                }
            }
            if (type == sys_stat_h.S_IFLNK) {
                try {
                    f.symlinkTarget = unistd_h.readlinkat(dirFd, name);
                } catch (SyscallException ex) {
                    throw failure(rel, ex);
                }
            } else if (type == sys_stat_h.S_IFREG && st.size() > 0) {
                toDigest.add(f);
            }
        }
    }

    private void digest(FdDigester dg, int rootFd, Found f, long total) throws IOException {
        String what = source + "/" + display(f.relPath);
        int fd;
        try {
            // Beneath the source and through no symlink: the tree cannot be redirected mid-scan.
            fd = fcntl_h.openat2(rootFd, f.relPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0,
                    fcntl_h.RESOLVE_BENEATH | fcntl_h.RESOLVE_NO_SYMLINKS);
        } catch (SyscallException e) {
            throw failure(f.relPath, e);
        }
        try {
            long size = f.st.size();
            int inline = options.inlineLimit();
            byte[] measured = f.st.isVerity() && size > inline ? FdDigester.measured(fd, what) : null;
            if (measured != null) {
                f.digest = measured;
            } else {
                FdDigester.Result r = dg.digest(fd, inline, what);
                if (r.size() != size) {
                    throw new IOException(what + ": changed during the scan (" + size + " bytes, then " + r.size() + ")");
                }
                f.digest = r.digest();
                f.content = r.content();
            }
            // Inline files live in the image itself; like upstream, only backed files go to the store.
            if (store != null && size > inline && store.put(fd, f.digest, size, what)) {
                stored.incrementAndGet();
            }
            long done = bytesDone.addAndGet(size);
            digested.incrementAndGet();
            if (progress.enabled()) {
                progress.update("digesting: " + digested.get() + "/" + toDigest.size() + " files, "
                    + Progress.bytes(done) + " of " + Progress.bytes(total)
                    + (store != null ? ", " + stored.get() + " new objects" : ""));
            }
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    private Node assemble(Found f) {
        if (f.sameInodeAs != null) {
            return new Hardlink(f.sameInodeAs.node);
        }
        Statx st = f.st;
        int nlink = f.links; // 1 unless --hardlinks found further names; directories are counted by the writer
        Meta meta = new Meta(st.mode(), st.uid(), st.gid(), options.useEpoch() ? 0 : st.mtimeSec(),
                options.useEpoch() ? 0 : st.mtimeNsec(), nlink, f.xattrs);
        Node n = switch (st.type()) {
            case sys_stat_h.S_IFDIR -> {
                Directory d = new Directory(meta);
                for (Map.Entry<String, Found> c : f.children) {
                    d.entries().put(c.getKey(), assemble(c.getValue()));
                }
                yield d;
            }
            case sys_stat_h.S_IFREG -> st.size() == 0
                    ? new RegularFile(meta, 0, null, null, null)
                    : new RegularFile(meta, st.size(), f.content, ObjectStore.objectPath(f.digest), f.digest);
            case sys_stat_h.S_IFLNK -> new Symlink(meta, new String(f.symlinkTarget, StandardCharsets.ISO_8859_1));
            case sys_stat_h.S_IFCHR, sys_stat_h.S_IFBLK -> new Device(meta, st.rdev());
            case sys_stat_h.S_IFIFO -> new Fifo(meta);
            case sys_stat_h.S_IFSOCK -> new Socket(meta);
            default -> throw new IllegalStateException("unknown file type " + Integer.toOctalString(st.mode()));
        };
        f.node = n;
        return n;
    }

    private Xattrs xattrs(int rootFd, byte[] rel) throws IOException {
        Xattrs x = new Xattrs();
        if (options.skipXattrs()) {
            return x;
        }
        // Like upstream: an O_PATH fd reaches any inode type (a symlink too), /proc/self/fd names it.
        int fd;
        try {
            fd = rel.length == 0 ? fcntl_h.openat(rootFd, new byte[] {'.'}, O_PATH | O_CLOEXEC, 0)
                    : fcntl_h.openat2(rootFd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                            fcntl_h.RESOLVE_BENEATH | fcntl_h.RESOLVE_NO_SYMLINKS);
        } catch (SyscallException e) {
            throw failure(rel, e);
        }
        try {
            String proc = "/proc/self/fd/" + fd;
            for (byte[] key : sys_xattr_h.listxattr(proc)) {
                if (options.userXattrs() && !Arrays.equals(key, 0, Math.min(key.length, USER_PREFIX.length),
                        USER_PREFIX, 0, USER_PREFIX.length)) {
                    continue;
                }
                x.put(new String(key, StandardCharsets.ISO_8859_1), sys_xattr_h.getxattr(proc, key));
            }
            return x;
        } catch (SyscallException e) {
            throw failure(rel, e);
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    private Statx statx(int dirFd, byte[] name, byte[] rel) throws IOException {
        try {
            return sys_stat_h.statx(dirFd, name, AT_SYMLINK_NOFOLLOW, STATX_MASK);
        } catch (SyscallException e) {
            throw failure(rel, e);
        }
    }

    private int open(int dirFd, byte[] name, int flags, byte[] rel) throws IOException {
        try {
            return fcntl_h.openat(dirFd, name, flags, 0);
        } catch (SyscallException e) {
            throw failure(rel, e);
        }
    }

    private IOException failure(byte[] rel, SyscallException e) {
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
