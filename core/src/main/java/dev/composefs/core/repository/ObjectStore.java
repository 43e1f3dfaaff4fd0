package dev.composefs.core.repository;

import static dev.composefs.bindings.fcntl_h.AT_SYMLINK_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_CREAT;
import static dev.composefs.bindings.fcntl_h.O_DIRECTORY;
import static dev.composefs.bindings.fcntl_h.O_EXCL;
import static dev.composefs.bindings.fcntl_h.O_NOFOLLOW;
import static dev.composefs.bindings.fcntl_h.O_NONBLOCK;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;
import static dev.composefs.bindings.fcntl_h.O_WRONLY;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.dirent_h;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_fs_h;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.stdio_h;
import dev.composefs.bindings.sys_file_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.util.Parallel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A content-addressed object store as upstream's {@code mkcomposefs --digest-store} writes it and
 * overlayfs reads it as a data-only layer: each file lives at {@code XX/<62 hex>}, named by its
 * fs-verity digest. Every access goes through directory fds opened with O_NOFOLLOW, so a symlink
 * planted inside the store is refused, never followed. Objects are published with
 * renameat2(RENAME_NOREPLACE): an existing object is never rewritten, and several writers can fill
 * one store at once. Writers hold a shared flock on the store directory, gc an exclusive one.
 */
public final class ObjectStore implements AutoCloseable {
    /** How the store is opened: SHARED for adding and reading, EXCLUSIVE for removing (gc). */
    public enum Lock { SHARED, EXCLUSIVE }

    /** Whether objects get fs-verity: not yet known, enabled, or unsupported by the filesystem. */
    public enum Sealing { UNKNOWN, SEALED, UNSUPPORTED }

    static final String TEMP_PREFIX = ".tmp-";
    private static final int MODIFIED = sys_stat_h.STATX_MTIME | sys_stat_h.STATX_SIZE;

    private final Path root;
    private final int rootFd;
    private final Consumer<String> warn;
    private final ConcurrentHashMap<String, Integer> dirs = new ConcurrentHashMap<>();
    private final ObjectListing listing = new ObjectListing();
    private final AtomicBoolean tryReflink = new AtomicBoolean(true);
    private final AtomicBoolean tryCopyRange = new AtomicBoolean(true);
    private final AtomicBoolean tryTmpfile = new AtomicBoolean(true);
    private volatile Sealing sealing = Sealing.UNKNOWN;
    private volatile ConcurrentHashMap<String, Pending> batch; // see beginBatch
    // Large files found new to the store, and found stored already: whether copying before
    // hashing pays (see copyFirst). A store without subdirectories starts out counting one new.
    private final AtomicInteger largeNew;
    private final AtomicInteger largeShared;

    private ObjectStore(Path root, int rootFd, Consumer<String> warn, boolean empty) {
        this.root = root;
        this.rootFd = rootFd;
        this.warn = warn;
        this.largeNew = new AtomicInteger(empty ? 1 : 0);
        this.largeShared = new AtomicInteger(empty ? 0 : 1);
    }

    /**
     * Opens (and with create, makes) the store at root and takes its lock. An EXCLUSIVE request
     * does not wait: it fails if any writer holds the store.
     */
    public static ObjectStore open(Path root, boolean create, Lock lock, Consumer<String> warn) throws IOException {
        if (create) {
            try {
                // private: objects are 0644 whatever the source mode (a 0600 /etc/shadow too), and
                // overlayfs checks access against the image's inode, reading objects as the mounter
                sys_stat_h.mkdirat(fcntl_h.AT_FDCWD, root.toString(), 0700);
            } catch (SyscallException e) {
                if (!e.is(Errno.EEXIST)) {
                    throw new IOException(root + ": cannot create object store: " + e.getMessage(), e);
                }
            }
        }
        int fd;
        try {
            fd = fcntl_h.openat(fcntl_h.AT_FDCWD, root.toString(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new IOException(root + ": cannot open object store: " + e.getMessage(), e);
        }
        try {
            if (lock == Lock.SHARED) {
                sys_file_h.flock(fd, sys_file_h.LOCK_SH, root.toString());
            } else {
                sys_file_h.flock(fd, sys_file_h.LOCK_EX | sys_file_h.LOCK_NB, root.toString());
            }
        } catch (SyscallException e) {
            unistd_h.closeQuietly(fd);
            if (e.is(Errno.EAGAIN)) {
                throw new IOException(root + ": the store is in use (a writer holds it); try again when it is done", e);
            }
            throw new IOException(root + ": cannot lock object store: " + e.getMessage(), e);
        }
        return new ObjectStore(root, fd, warn, withoutSubdirectories(fd));
    }

    /** Whether the directory fd has no subdirectories, by its link count; false where that says nothing (btrfs: 1). */
    private static boolean withoutSubdirectories(int fd) {
        try {
            return sys_stat_h.statx(null, fd, sys_stat_h.STATX_NLINK).nlink() == 2;
        } catch (SyscallException e) {
            return false; // only a guess for speed: hashing first is never wrong
        }
    }

    public Path root() {
        return root;
    }

    public Sealing sealing() {
        return sealing;
    }

    /** Whether objects may still be reflinked from their source (false once the filesystem refused). */
    public boolean reflinks() {
        return tryReflink.get();
    }

    /** The store-relative path of the object with this digest: {@code XX/<62 hex>}. */
    public static String objectPath(byte[] digest) {
        return RegularFile.objectPath(digest);
    }

    /** True if the object exists (as a regular file; anything else there is an error). */
    public boolean contains(byte[] digest) throws IOException {
        String path = objectPath(digest);
        int dir = dirFd(path.substring(0, 2), false);
        return dir >= 0 && isObject(null, dir, path.substring(3), path);
    }

    /** The store's directory of cached kernel-driver descriptors, each named by its fs-verity digest. */
    public static final String DESCRIPTORS = "descriptors";

    /**
     * What {@link #put} stores: where its bytes come from, and their fs-verity digest where the
     * caller computed it from those very bytes (else it is computed as they are stored).
     */
    public sealed interface Content permits FromFd, FromBytes, FromMemory, FromStream {}

    /**
     * size bytes of fd, read from offset 0; digest null: hashed as they are copied, which needs
     * O_TMPFILE ({@link #put} returns null where the store's filesystem has none: hash first).
     * dg: the calling thread's digester, which also reads back an object fs-verity cannot seal.
     */
    public record FromFd(int fd, long size, byte[] digest, FdDigester dg) implements Content {}

    public record FromBytes(byte[] bytes, byte[] digest) implements Content {}

    /** Native memory (a scan's read buffer); scratch: the calling thread's for native calls, or null. */
    public record FromMemory(MemorySegment bytes, byte[] digest, Scratch scratch) implements Content {}

    /**
     * Exactly size bytes of in (a large file inside an archive), hashed as they are written to an
     * unnamed file. Small files are better hashed in memory and stored {@link FromBytes}, which
     * writes nothing for a shared one.
     */
    public record FromStream(InputStream in, long size) implements Content {}

    /**
     * Stores content as the object named by its digest, unless that object exists: its digest and
     * whether this call added it; null only for a {@link FromFd} without a digest on a filesystem
     * without O_TMPFILE. source names the content in messages.
     */
    public Stored put(Content content, String source) throws IOException {
        // instanceof, not a pattern switch: see ErofsWriter.build
        if (content instanceof FromFd f) {
            return f.digest() == null ? putCopying(f.fd(), f.size(), source, f.dg())
                    : new Stored(f.digest(), putFd(f.fd(), f.digest(), f.size(), source, f.dg()));
        }
        if (content instanceof FromBytes b) {
            return new Stored(b.digest(), putBytes(b.bytes(), b.digest(), source));
        }
        if (content instanceof FromMemory m) {
            return new Stored(m.digest(), putMemory(m.bytes(), m.digest(), source, m.scratch()));
        }
        FromStream st = (FromStream) content;
        return putStream(st.in(), st.size(), source);
    }

    /**
     * Stores the content of srcFd (read from offset 0) under digest, unless the object exists.
     * Returns true if this call added it. The copy is a reflink where the filesystem can, written
     * to a temporary name beside its final name, fsynced, sealed with fs-verity where supported
     * (and then measured by the kernel, which must agree with digest; else read back through dg,
     * the caller's digester), then renamed into place.
     */
    private boolean putFd(int srcFd, byte[] digest, long size, String source, FdDigester dg) throws IOException {
        if (listing.holds(digest)) {
            return counted(false);
        }
        String path = objectPath(digest);
        return counted(publish(path.substring(0, 2), path.substring(3), digest, source, dg, dg.scratch(), out -> {
            unistd_h.lseek(srcFd, 0, unistd_h.SEEK_SET, source);
            Copy copied = copy(srcFd, out, size, source, dg);
            if (copied.bytes() != size || copied.digest() != null && !Arrays.equals(copied.digest(), digest)) {
                throw new IOException(source + ": changed while being stored (" + (copied.bytes() != size
                        ? copied.bytes() + " bytes, expected " + size : "the bytes copied have another digest")
                        + "); nothing was stored for it");
            }
            return copied.digest() != null;
        }));
    }

    /**
     * Whether a large file is better stored as a {@link FromFd} without its digest than hashed first: when most
     * of the large files seen so far were new. Copying first reads and hashes a new file once
     * instead of twice (its copy is hashed too, or read back), and costs a copy that is thrown
     * away for a file already stored: about a third of a hash, where a reflink costs nothing.
     */
    public boolean copyFirst() {
        return largeNew.get() >= largeShared.get();
    }

    private boolean counted(boolean added) {
        (added ? largeNew : largeShared).incrementAndGet();
        return added;
    }

    /**
     * Stores size bytes of srcFd (from offset 0), whose digest is not known yet, hashing them as
     * they are copied (a reflink is hashed after): written to an unnamed O_TMPFILE file, then
     * published under the digest of exactly its bytes unless that object exists, in the batch if
     * one is open. Returns null where the filesystem has no O_TMPFILE: the caller hashes first.
     */
    private Stored putCopying(int srcFd, long size, String source, FdDigester dg) throws IOException {
        int tmp = unnamedFile(source, false);
        if (tmp < 0) {
            return null;
        }
        try {
            // One read cannot see the file change under it, as a second one would: its
            // modification time says whether it did (where timestamps are multigrain, ext4 and
            // xfs since 6.13, asking for it makes the next write carry a distinct one).
            sys_stat_h.Statx before = sys_stat_h.statx(dg.scratch(), srcFd, MODIFIED);
            unistd_h.lseek(srcFd, 0, unistd_h.SEEK_SET, source);
            FdDigester.Result r = reflink(tmp, srcFd, source) ? dg.digest(tmp, 0, source)
                    : dg.copy(srcFd, tmp, size, source, root.toString());
            sys_stat_h.Statx after = sys_stat_h.statx(dg.scratch(), srcFd, MODIFIED);
            if (r.size() != size || after.size() != size || after.mtimeSec() != before.mtimeSec()
                    || after.mtimeNsec() != before.mtimeNsec()) {
                throw new IOException(source + ": changed while being stored (" + (r.size() != size
                        ? r.size() + " bytes, expected " + size : "written to during the copy")
                        + "); nothing was stored for it");
            }
            int t = tmp;
            tmp = -1;
            return new Stored(r.digest(), counted(adopt(t, r.digest(), source)));
        } catch (SyscallException e) {
            throw new IOException(root + ": cannot store " + source + ": " + e.getMessage(), e);
        } finally {
            unistd_h.closeQuietly(tmp);
        }
    }

    /** Stores bytes whose digest the caller computed from these very bytes; true if this call added them. */
    private boolean putBytes(byte[] content, byte[] digest, String source) throws IOException {
        if (listing.holds(digest)) {
            return false;
        }
        String path = objectPath(digest);
        return publish(path.substring(0, 2), path.substring(3), digest, source, null, null, written(content, source));
    }

    /**
     * Stores content (native memory, e.g. a scan's read buffer), whose digest the caller computed
     * from it; scratch: the calling thread's for native calls, or null.
     */
    private boolean putMemory(MemorySegment content, byte[] digest, String source, Scratch scratch) throws IOException {
        if (listing.holds(digest)) { // before any string is made for it: most of a warm ingest's files
            return false;
        }
        String path = objectPath(digest);
        return publish(path.substring(0, 2), path.substring(3), digest, source, null, scratch,
                out -> {
                    unistd_h.writeFully(out, content, content.byteSize(), source);
                    return true;
                });
    }

    /**
     * Caches a kernel-driver descriptor as {@link #descriptorPath} (written and sealed like an
     * object); true if this call wrote it. An existing one is left as it is: the caller checks it
     * before use.
     */
    public boolean putDescriptor(byte[] descriptor, byte[] digest) throws IOException {
        String name = FsVerity.hex(digest);
        return publish(DESCRIPTORS, name, digest, "descriptor " + name, null, null, written(descriptor, name));
    }

    /** Where the descriptor of the image with this fs-verity digest is cached: {@code descriptors/<hex digest>}. */
    public Path descriptorPath(byte[] digest) {
        return root.resolve(DESCRIPTORS).resolve(FsVerity.hex(digest));
    }

    /** Removes a cached descriptor (one found damaged, before it is written again). */
    public void removeDescriptor(byte[] digest) throws IOException {
        remove(DESCRIPTORS, FsVerity.hex(digest));
    }

    /** Writes an object's content to out; true if those very bytes were hashed and matched its name. */
    private interface Filler {
        boolean fill(int out) throws IOException;
    }

    /** Fills an object with bytes whose digest the caller computed from them. */
    private static Filler written(byte[] bytes, String what) {
        return out -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(Math.max(1, bytes.length));
                MemorySegment.copy(bytes, 0, buf, ValueLayout.JAVA_BYTE, 0, bytes.length);
                unistd_h.writeFully(out, buf, bytes.length, what);
            }
            return true;
        };
    }

    /** An object written and sealed under a temporary name, waiting for {@link #commit}. */
    private record Pending(int dir, String tmp, String subdir, String name) {}

    /**
     * Starts a batch: until {@link #commit}, objects are written and sealed under temporary names
     * without an fsync each, then made durable by one syncfs and only then renamed into place.
     * The same guarantee (no name before its data is on disk) for one flush instead of one per
     * object, which is what a cold ingest of many small files spends its time on. A batch that
     * is never committed leaves nothing but temporary files, which {@link #close} removes.
     */
    public synchronized void beginBatch() {
        if (batch == null) {
            batch = new ConcurrentHashMap<>();
        }
    }

    /**
     * Publishes the batch: syncfs, then every object renamed into place, on threads threads
     * (renames are a large part of a cold ingest, done on one thread). An object another
     * writer published first is left as theirs; on any other failure the remaining temporary
     * files are left for {@link #close} to remove and the first failure is thrown.
     */
    public void commit(int threads) throws IOException {
        ConcurrentHashMap<String, Pending> b;
        synchronized (this) {
            b = batch;
            batch = null;
        }
        if (b == null || b.isEmpty()) {
            return;
        }
        try {
            unistd_h.syncfs(rootFd, root.toString());
        } catch (SyscallException e) {
            b.values().forEach(p -> discard(p.dir(), p.tmp()));
            throw new IOException(root + ": cannot flush the new objects: " + e.getMessage(), e);
        }
        Parallel.forEach(new ArrayList<>(b.values()), threads, () -> NO_STATE, (none, p) -> {
            try {
                stdio_h.renameat2(p.dir(), p.tmp(), p.dir(), p.name(), stdio_h.RENAME_NOREPLACE);
            } catch (SyscallException e) {
                discard(p.dir(), p.tmp()); // EEXIST: another writer published it first
                if (!e.is(Errno.EEXIST)) {
                    throw new IOException(where(p.subdir() + "/" + p.name()) + ": cannot store: " + e.getMessage(), e);
                }
            }
        });
    }

    /** The per-thread state of the renames: none. */
    private static final AutoCloseable NO_STATE = () -> { };

    /**
     * Writes subdirectory/name unless it exists: a temporary name beside it, filled, fsynced,
     * sealed (see {@link #seal}), renamed into place; true if this call added it. In a batch the
     * fsync and the rename wait for {@link #commit}.
     */
    private boolean publish(String subdir, String name, byte[] digest, String source, FdDigester dg, Scratch scratch,
            Filler filler) throws IOException {
        return publish(subdir, name, digest, source, scratch, (dir, tmp, fsync) -> {
            int out = fcntl_h.openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            boolean closing = false;
            try {
                // bytes hashed on their way in need no read-back where there is no fs-verity
                FdDigester readBack = filler.fill(out) ? null : dg;
                sys_stat_h.fchmod(out, 0644, where(subdir + "/" + tmp)); // readable by all, whatever the umask
                if (fsync) {
                    unistd_h.fsync(out, where(subdir + "/" + tmp));
                }
                closing = true; // close releases the fd even when it reports an error
                unistd_h.close(out);
                return readBack;
            } finally {
                if (!closing) {
                    unistd_h.closeQuietly(out);
                }
            }
        });
    }

    /**
     * Puts an object's complete content at dir/tmp, fsynced if asked; returns the digester to
     * read it back with where no fs-verity vouches for it (see {@link #seal}), or null.
     */
    private interface Placer {
        FdDigester place(int dir, String tmp, boolean fsync) throws IOException;
    }

    /** {@link #publish(String, String, byte[], String, FdDigester, Scratch, Filler)} with the temporary file made by placer. */
    private boolean publish(String subdir, String name, byte[] digest, String source, Scratch scratch, Placer placer)
            throws IOException {
        String path = subdir + "/" + name;
        int dir = dirFd(subdir, true);
        if (present(scratch, subdir, dir, name, digest, path)) {
            return false;
        }
        ConcurrentHashMap<String, Pending> b = batch;
        String tmp = tempName(name);
        if (b != null && b.putIfAbsent(path, new Pending(dir, tmp, subdir, name)) != null) {
            return false; // this batch already writes it
        }
        boolean handedOn = false; // to install() or to the batch: no longer ours to remove
        try {
            FdDigester readBack = placer.place(dir, tmp, b == null);
            if (b == null) {
                handedOn = true;
                return install(dir, tmp, subdir, name, digest, source, readBack);
            }
            seal(dir, tmp, digest, source, readBack);
            handedOn = true;
            return true;
        } catch (SyscallException e) {
            throw new IOException(where(path) + ": cannot store " + source + ": " + e.getMessage(), e);
        } finally {
            if (!handedOn) {
                discard(dir, tmp);
                if (b != null) {
                    b.remove(path);
                }
            }
        }
    }

    private static String tempName(String name) {
        return TEMP_PREFIX + name.substring(0, 8) + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    }

    /**
     * Seals the complete, fsynced temporary file dir/tmp and renames it to name unless that
     * exists; true if it was installed. The temporary name is gone afterwards either way.
     */
    private boolean install(int dir, String tmp, String subdir, String name, byte[] digest, String source,
            FdDigester dg) throws IOException {
        boolean published = false;
        try {
            seal(dir, tmp, digest, source, dg);
            try {
                stdio_h.renameat2(dir, tmp, dir, name, stdio_h.RENAME_NOREPLACE);
            } catch (SyscallException e) {
                if (e.is(Errno.EEXIST)) {
                    return false; // another writer published the same object first
                }
                throw e;
            }
            published = true;
            return true;
        } catch (SyscallException e) {
            throw new IOException(where(subdir + "/" + name) + ": cannot store " + source + ": " + e.getMessage(), e);
        } finally {
            if (!published) {
                discard(dir, tmp);
            }
        }
    }

    private static void discard(int dir, String tmp) {
        try {
            unistd_h.unlinkat(dir, tmp, 0);
        } catch (SyscallException ignored) {
            // already gone: nothing half-written remains either way
        }
    }

    /** What storing a streamed file did: its fs-verity digest, and whether this call added the object. */
    public record Stored(byte[] digest, boolean added) {}

    /**
     * Stores exactly size bytes read from in (a large file inside an archive, say), whose digest
     * is not known before they are read: written to an unnamed O_TMPFILE file while being hashed
     * and published only when complete (see {@link #adopt}), so an interrupted run leaves nothing
     * behind. An object that already exists is kept and the copy dropped.
     */
    private Stored putStream(InputStream in, long size, String source) throws IOException {
        int tmp = unnamedFile(source, true);
        try {
            long done = 0;
            byte[] digest;
            try (Arena arena = Arena.ofConfined()) {
                FsVerity verity = new FsVerity(FsVerity.Alg.SHA256, arena);
                byte[] heap = new byte[1 << 20];
                MemorySegment buf = arena.allocate(heap.length);
                while (done < size) {
                    int n = in.read(heap, 0, (int) Math.min(heap.length, size - done));
                    if (n < 0) {
                        throw new IOException(source + ": ended after " + done + " of " + size + " bytes");
                    }
                    MemorySegment.copy(heap, 0, buf, ValueLayout.JAVA_BYTE, 0, n);
                    verity.update(buf, 0, n); // hashes the very bytes written
                    unistd_h.writeFully(tmp, buf, n, source);
                    done += n;
                }
                digest = verity.digest();
            }
            int t = tmp;
            tmp = -1;
            return new Stored(digest, adopt(t, digest, source));
        } catch (SyscallException e) {
            throw new IOException(root + ": cannot store " + source + ": " + e.getMessage(), e);
        } finally {
            unistd_h.closeQuietly(tmp);
        }
    }

    /**
     * An unnamed file in the store's filesystem (O_TMPFILE, readable for hashing a reflink), or
     * -1 where the filesystem has none and required is false.
     */
    private int unnamedFile(String source, boolean required) throws IOException {
        if (!required && !tryTmpfile.get()) {
            return -1;
        }
        try {
            return fcntl_h.openat(rootFd, ".", fcntl_h.O_TMPFILE | fcntl_h.O_RDWR | O_CLOEXEC, 0644);
        } catch (SyscallException e) {
            if (!required && (e.is(Errno.EOPNOTSUPP) || e.is(Errno.EISDIR))) {
                tryTmpfile.set(false); // the filesystem has none: hash first from now on
                return -1;
            }
            throw new IOException(root + ": cannot create an unnamed temporary file (O_TMPFILE) for " + source
                    + ": " + e.getMessage(), e);
        }
    }

    /**
     * Publishes the complete unnamed file tmp, whose bytes have this digest, unless the object
     * exists: linked in under a temporary name, then sealed and renamed like any object (in the
     * batch if one is open: the fsync and the rename wait for {@link #commit}). Closes tmp.
     */
    private boolean adopt(int tmp, byte[] digest, String source) throws IOException {
        String path = objectPath(digest);
        int[] open = {tmp};
        try {
            if (listing.holds(digest)) {
                return false;
            }
            return publish(path.substring(0, 2), path.substring(3), digest, source, null, (dir, name, fsync) -> {
                sys_stat_h.fchmod(open[0], 0644, source);
                if (fsync) {
                    unistd_h.fsync(open[0], source);
                }
                unistd_h.linkat(fcntl_h.AT_FDCWD, "/proc/self/fd/" + open[0], dir, name, fcntl_h.AT_SYMLINK_FOLLOW);
                int fd = open[0];
                open[0] = -1;
                unistd_h.close(fd); // fs-verity needs every writable fd gone
                return null; // hashed as it was written
            });
        } finally {
            unistd_h.closeQuietly(open[0]);
        }
    }

    /** What {@link #copy} wrote: how many bytes, and their digest where it hashed them on the way (else null). */
    private record Copy(long bytes, byte[] digest) {}

    /**
     * Copies in to out: a reflink, else an in-kernel copy_file_range, else through dg's buffer,
     * hashing the bytes as they are written (a copy between filesystems, where the kernel cannot:
     * the digest then vouches for exactly what was written, and no read-back is needed).
     */
    private Copy copy(int in, int out, long size, String source, FdDigester dg) throws IOException {
        if (reflink(out, in, source)) {
            return new Copy(size, null);
        }
        long done = 0;
        if (tryCopyRange.get()) {
            try {
                for (long n; (n = unistd_h.copyFileRange(in, out, 1L << 30, source)) > 0; ) {
                    done += n;
                }
                return new Copy(done, null);
            } catch (SyscallException e) {
                boolean unsupported = e.is(Errno.EXDEV) || e.is(Errno.ENOSYS) || e.is(Errno.EOPNOTSUPP)
                        || e.is(Errno.EINVAL);
                if (!unsupported || done > 0) {
                    throw e;
                }
                tryCopyRange.set(false);
            }
        }
        FdDigester.Result r = dg.copy(in, out, size, source, root.toString());
        return new Copy(r.size(), r.digest());
    }

    /** Clones in's extents into out (FICLONE); false once the filesystem has refused. */
    private boolean reflink(int out, int in, String source) throws SyscallException {
        if (!tryReflink.get()) {
            return false;
        }
        try {
            linux_fs_h.ficlone(out, in, source);
            return true;
        } catch (SyscallException e) {
            if (!(e.is(Errno.EOPNOTSUPP) || e.is(Errno.EXDEV) || e.is(Errno.EINVAL) || e.is(Errno.ENOTTY)
                    || e.is(Errno.EBADF))) {
                throw e;
            }
            tryReflink.set(false); // the filesystem cannot share extents: copy from now on
            return false;
        }
    }

    /**
     * fs-verity on the new object where the filesystem has it (the kernel's measurement must then
     * agree with digest); says once, clearly, when it does not. Without fs-verity the copy is
     * read back and hashed: a source that changed after it was hashed must not become an object
     * whose content does not match its name.
     */
    private void seal(int dir, String tmp, byte[] digest, String source, FdDigester dg) throws IOException {
        if (sealing == Sealing.UNSUPPORTED && dg == null) {
            return; // no fs-verity here, and the bytes written are those that were hashed
        }
        int fd = fcntl_h.openat(dir, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        try {
            byte[] actual;
            String how;
            if (sealing != Sealing.UNSUPPORTED && enableVerity(fd, source)) {
                actual = FdDigester.measured(fd, source);
                how = "the kernel measures";
                sealing = Sealing.SEALED;
            } else if (dg != null) {
                actual = dg.digest(fd, 0, source).digest();
                how = "the stored copy has";
            } else {
                return; // written from bytes whose digest was computed from them: nothing to compare
            }
            if (actual == null || !Arrays.equals(actual, digest)) {
                throw new IOException(source + ": changed while it was being stored (" + how + " "
                        + (actual == null ? "no digest" : FsVerity.hex(actual)) + ", the scan computed "
                        + FsVerity.hex(digest) + "); nothing was stored for it");
            }
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    /** FS_IOC_ENABLE_VERITY; false where the filesystem has no fs-verity. */
    private boolean enableVerity(int fd, String source) throws SyscallException {
        try {
            linux_fsverity_h.enableVerity(fd, source);
            return true;
        } catch (SyscallException e) {
            if (e.is(Errno.EOPNOTSUPP) || e.is(Errno.ENOTTY)) {
                unsupported(e);
                return false;
            }
            throw e;
        }
    }

    private synchronized void unsupported(SyscallException e) {
        if (sealing != Sealing.UNSUPPORTED) {
            sealing = Sealing.UNSUPPORTED;
            warn.accept(root + ": this filesystem does not support fs-verity (FS_IOC_ENABLE_VERITY: " + e.errnoName()
                    + "); objects are stored but not kernel-sealed, so mounts with verity cannot use them");
        }
    }

    /**
     * Whether subdir/name (open as dir) is stored, by {@link #isObject}: a lookup the listing
     * counts, which every put of an object asks first (see {@link ObjectListing}).
     */
    private boolean present(Scratch scratch, String subdir, int dir, String name, byte[] digest, String path)
            throws IOException {
        boolean found = isObject(scratch, dir, name, path);
        // a descriptor's digest does not name its directory
        if (!subdir.equals(DESCRIPTORS) && listing.lookedUp(digest)) {
            listing.consider(scratch, digest, dir, where(subdir));
        }
        return found;
    }

    /** Whether dir/name is an object (a regular file; anything else there is an error); scratch may be null. */
    private boolean isObject(Scratch scratch, int dir, String name, String path) throws IOException {
        try {
            var st = sys_stat_h.statx(scratch, dir, name.getBytes(StandardCharsets.UTF_8), AT_SYMLINK_NOFOLLOW,
                    sys_stat_h.STATX_TYPE);
            if (st.type() != sys_stat_h.S_IFREG) {
                throw new IOException(where(path) + ": not a regular file (something was planted in the store); "
                        + "refusing to use it");
            }
            return true;
        } catch (SyscallException e) {
            if (e.is(Errno.ENOENT)) {
                return false;
            }
            throw new IOException(where(path) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The entries of one of the store's directories (the root's fd, or one {@link #dirFd} gave),
     * read through an fd of its own: the store's fds are shared, and so is their directory
     * offset, which one listing leaves at the end for the next, or moves under a concurrent one.
     */
    static List<dirent_h.Entry> list(int dirFd, String where) throws SyscallException {
        int own = fcntl_h.openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        try {
            return dirent_h.readAll(own, where);
        } finally {
            unistd_h.closeQuietly(own);
        }
    }

    /** The fd of subdirectory xx, opened without following symlinks; -1 if absent and not created. */
    int dirFd(String xx, boolean create) throws IOException {
        Integer fd = dirs.get(xx);
        if (fd != null) {
            return fd;
        }
        try {
            // openDir returns null for an absent directory: then nothing is cached
            Integer opened = dirs.computeIfAbsent(xx, k -> {
                try {
                    return openDir(k, create);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            return opened == null ? -1 : opened;
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private Integer openDir(String xx, boolean create) throws IOException {
        if (create) {
            try {
                sys_stat_h.mkdirat(rootFd, xx, 0755);
            } catch (SyscallException e) {
                if (!e.is(Errno.EEXIST)) {
                    throw new IOException(where(xx) + ": " + e.getMessage(), e);
                }
            }
        }
        try {
            return fcntl_h.openat(rootFd, xx, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            if (e.is(Errno.ENOENT) && !create) {
                return null;
            }
            if (e.is(Errno.ELOOP) || e.is(Errno.ENOTDIR)) {
                throw new IOException(where(xx) + ": not a directory (something was planted in the store); "
                        + "refusing to follow it", e);
            }
            throw new IOException(where(xx) + ": " + e.getMessage(), e);
        }
    }

    /** Opens an object (or any entry of a subdirectory) for reading, never following a symlink or blocking. */
    int openEntry(String xx, String name) throws IOException {
        int dir = dirFd(xx, false);
        if (dir < 0) {
            throw new IOException(where(xx) + ": no such directory");
        }
        try {
            return fcntl_h.openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new IOException(where(xx + "/" + name) + ": " + e.getMessage(), e);
        }
    }

    void remove(String xx, String name) throws IOException {
        try {
            unistd_h.unlinkat(dirFd(xx, false), name, 0);
        } catch (SyscallException e) {
            throw new IOException(where(xx + "/" + name) + ": cannot remove: " + e.getMessage(), e);
        }
    }

    int rootFd() {
        return rootFd;
    }

    String where(String relative) {
        return root.resolve(relative).toString();
    }

    @Override
    public void close() {
        ConcurrentHashMap<String, Pending> b = batch;
        if (b != null) { // never committed: nothing of it is published
            b.values().forEach(p -> discard(p.dir(), p.tmp()));
            batch = null;
        }
        dirs.values().forEach(unistd_h::closeQuietly);
        dirs.clear();
        unistd_h.closeQuietly(rootFd); // also releases the flock
    }
}
