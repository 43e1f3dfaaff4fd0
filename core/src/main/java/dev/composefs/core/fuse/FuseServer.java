package dev.composefs.core.fuse;

import static dev.composefs.bindings.linux_fuse_h.*;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Native;
import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.linux_fuse_passthrough_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.Xattrs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A read-only FUSE server for one image: reads requests from a /dev/fuse connection and answers
 * them from the image's inodes and the store's objects, in a few threads that each read, answer
 * and read again. It ends when the kernel says the connection is gone (ENODEV: unmounted).
 */
public final class FuseServer {
    /** The protocol minor this server speaks: 7.40 has passthrough. */
    static final int MINOR = 40;
    /** The image never changes while served: names and attributes stay valid in the kernel's caches. */
    private static final long VALID_SECONDS = 86400;
    private static final int MAX_PAGES = 256;
    private static final int MAX_READ = MAX_PAGES * 4096;
    private static final int REQUEST_BUFFER = 64 * 1024 + 4096;
    private static final int OUT_HEADER = (int) fuse_out_header.byteSize();

    // offsets, from the bindings' layouts
    private static final long IN_LEN = Native.offsetOf(fuse_in_header, "len");
    private static final long IN_OPCODE = Native.offsetOf(fuse_in_header, "opcode");
    private static final long IN_UNIQUE = Native.offsetOf(fuse_in_header, "unique");
    private static final long IN_NODEID = Native.offsetOf(fuse_in_header, "nodeid");
    private static final long IN_UID = Native.offsetOf(fuse_in_header, "uid");
    private static final int IN_HEADER = (int) fuse_in_header.byteSize();
    private static final long OUT_LEN = Native.offsetOf(fuse_out_header, "len");
    private static final long OUT_ERROR = Native.offsetOf(fuse_out_header, "error");
    private static final long OUT_UNIQUE = Native.offsetOf(fuse_out_header, "unique");
    private static final int ENTRY_OUT = (int) fuse_entry_out.byteSize();
    private static final long ENTRY_ATTR = Native.offsetOf(fuse_entry_out, "attr");
    private static final long ATTR_OUT_ATTR = Native.offsetOf(fuse_attr_out, "attr");
    private static final int DIRENT = (int) fuse_dirent.byteSize();
    private static final long DIRENTPLUS_DIRENT = Native.offsetOf(fuse_direntplus, "dirent");

    // every member this server reads or writes, its offset found once
    private static final long ATTR_ATIME = Native.offsetOf(fuse_attr, "atime");
    private static final long ATTR_ATIMENSEC = Native.offsetOf(fuse_attr, "atimensec");
    private static final long ATTR_BLKSIZE = Native.offsetOf(fuse_attr, "blksize");
    private static final long ATTR_BLOCKS = Native.offsetOf(fuse_attr, "blocks");
    private static final long ATTR_CTIME = Native.offsetOf(fuse_attr, "ctime");
    private static final long ATTR_CTIMENSEC = Native.offsetOf(fuse_attr, "ctimensec");
    private static final long ATTR_FLAGS = Native.offsetOf(fuse_attr, "flags");
    private static final long ATTR_GID = Native.offsetOf(fuse_attr, "gid");
    private static final long ATTR_INO = Native.offsetOf(fuse_attr, "ino");
    private static final long ATTR_MODE = Native.offsetOf(fuse_attr, "mode");
    private static final long ATTR_MTIME = Native.offsetOf(fuse_attr, "mtime");
    private static final long ATTR_MTIMENSEC = Native.offsetOf(fuse_attr, "mtimensec");
    private static final long ATTR_NLINK = Native.offsetOf(fuse_attr, "nlink");
    private static final long ATTR_OUT_ATTR_VALID = Native.offsetOf(fuse_attr_out, "attr_valid");
    private static final long ATTR_OUT_ATTR_VALID_NSEC = Native.offsetOf(fuse_attr_out, "attr_valid_nsec");
    private static final long ATTR_OUT_DUMMY = Native.offsetOf(fuse_attr_out, "dummy");
    private static final long ATTR_RDEV = Native.offsetOf(fuse_attr, "rdev");
    private static final long ATTR_SIZE = Native.offsetOf(fuse_attr, "size");
    private static final long ATTR_UID = Native.offsetOf(fuse_attr, "uid");
    private static final long DIRENT_INO = Native.offsetOf(fuse_dirent, "ino");
    private static final long DIRENT_NAMELEN = Native.offsetOf(fuse_dirent, "namelen");
    private static final long DIRENT_OFF = Native.offsetOf(fuse_dirent, "off");
    private static final long DIRENT_TYPE = Native.offsetOf(fuse_dirent, "type");
    private static final long ENTRY_OUT_ATTR_VALID = Native.offsetOf(fuse_entry_out, "attr_valid");
    private static final long ENTRY_OUT_ATTR_VALID_NSEC = Native.offsetOf(fuse_entry_out, "attr_valid_nsec");
    private static final long ENTRY_OUT_ENTRY_VALID = Native.offsetOf(fuse_entry_out, "entry_valid");
    private static final long ENTRY_OUT_ENTRY_VALID_NSEC = Native.offsetOf(fuse_entry_out, "entry_valid_nsec");
    private static final long ENTRY_OUT_GENERATION = Native.offsetOf(fuse_entry_out, "generation");
    private static final long ENTRY_OUT_NODEID = Native.offsetOf(fuse_entry_out, "nodeid");
    private static final long GETXATTR_IN_SIZE = Native.offsetOf(fuse_getxattr_in, "size");
    private static final long GETXATTR_OUT_PADDING = Native.offsetOf(fuse_getxattr_out, "padding");
    private static final long GETXATTR_OUT_SIZE = Native.offsetOf(fuse_getxattr_out, "size");
    private static final long INIT_IN_FLAGS2 = Native.offsetOf(fuse_init_in, "flags2");
    private static final long PT_INIT_OUT_FLAGS2 = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "flags2");
    private static final long INIT_IN_FLAGS = Native.offsetOf(fuse_init_in, "flags");
    private static final long INIT_IN_MAJOR = Native.offsetOf(fuse_init_in, "major");
    private static final long INIT_IN_MAX_READAHEAD = Native.offsetOf(fuse_init_in, "max_readahead");
    private static final long INIT_IN_MINOR = Native.offsetOf(fuse_init_in, "minor");
    private static final long KSTATFS_BSIZE = Native.offsetOf(fuse_kstatfs, "bsize");
    private static final long KSTATFS_FILES = Native.offsetOf(fuse_kstatfs, "files");
    private static final long KSTATFS_FRSIZE = Native.offsetOf(fuse_kstatfs, "frsize");
    private static final long KSTATFS_NAMELEN = Native.offsetOf(fuse_kstatfs, "namelen");
    private static final long OPEN_OUT_FH = Native.offsetOf(fuse_open_out, "fh");
    private static final long OPEN_OUT_OPEN_FLAGS = Native.offsetOf(fuse_open_out, "open_flags");
    private static final long OPEN_OUT_PADDING = Native.offsetOf(fuse_open_out, "padding");
    private static final long PT_INIT_OUT_CONGESTION_THRESHOLD = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "congestion_threshold");
    private static final long PT_INIT_OUT_FLAGS = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "flags");
    private static final long PT_INIT_OUT_MAJOR = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "major");
    private static final long PT_INIT_OUT_MAX_BACKGROUND = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "max_background");
    private static final long PT_INIT_OUT_MAX_PAGES = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "max_pages");
    private static final long PT_INIT_OUT_MAX_READAHEAD = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "max_readahead");
    private static final long PT_INIT_OUT_MAX_STACK_DEPTH = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "max_stack_depth");
    private static final long PT_INIT_OUT_MAX_WRITE = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "max_write");
    private static final long PT_INIT_OUT_MINOR = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "minor");
    private static final long PT_INIT_OUT_TIME_GRAN = Native.offsetOf(linux_fuse_passthrough_h.fuse_init_out, "time_gran");
    private static final long PT_OPEN_OUT_BACKING_ID = Native.offsetOf(linux_fuse_passthrough_h.fuse_open_out, "backing_id");
    private static final long PT_OPEN_OUT_FH = Native.offsetOf(linux_fuse_passthrough_h.fuse_open_out, "fh");
    private static final long PT_OPEN_OUT_OPEN_FLAGS = Native.offsetOf(linux_fuse_passthrough_h.fuse_open_out, "open_flags");
    private static final long READ_IN_FH = Native.offsetOf(fuse_read_in, "fh");
    private static final long READ_IN_OFFSET = Native.offsetOf(fuse_read_in, "offset");
    private static final long READ_IN_SIZE = Native.offsetOf(fuse_read_in, "size");
    private static final long RELEASE_IN_FH = Native.offsetOf(fuse_release_in, "fh");

    private final int dev;
    private final Inodes inodes;
    private final ObjectFiles objects;
    private final boolean acl;
    private final boolean passthroughWanted;
    private final PrintStream log;
    private volatile boolean passthrough;
    private volatile boolean noOpendir;
    /** Open files: handle -> descriptor of the object (0: content served from the image). */
    private final Map<Long, Open> open = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);

    private record Open(long ino, int fd, boolean backed) {}

    /**
     * A server on connection dev (an open /dev/fuse) for root's tree. acl: the kernel enforces
     * the images' POSIX ACLs; passthrough: ask for it (it needs CAP_SYS_ADMIN and kernel 6.9).
     */
    FuseServer(int dev, Directory root, ObjectFiles objects, boolean acl, boolean passthrough, PrintStream log) {
        this.dev = dev;
        this.inodes = Inodes.of(root);
        this.objects = objects;
        this.acl = acl;
        this.passthroughWanted = passthrough;
        this.log = log;
    }

    /** Serves in threads workers until the connection ends; returns then. */
    void serve(int threads) throws InterruptedException {
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(this::work, "composefs-fuse-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        for (Thread t : workers) {
            t.join();
        }
        for (Open o : open.values()) {
            if (o.fd() > 0) {
                unistd_h.closeQuietly(o.fd());
            }
        }
    }

    private void work() {
        try (Scratch scratch = Scratch.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(REQUEST_BUFFER, 8);
            MemorySegment out = arena.allocate(OUT_HEADER + MAX_READ, 8);
            while (true) {
                long n;
                try {
                    n = unistd_h.read(scratch, dev, in, 0, in.byteSize(), "/dev/fuse");
                } catch (SyscallException e) {
                    if (e.is(Errno.ENODEV)) {
                        return; // unmounted
                    }
                    if (e.is(Errno.EINTR) || e.is(Errno.EAGAIN) || e.is(Errno.ENOENT)) {
                        continue; // a signal, or a request interrupted before it was read
                    }
                    log.println("composefs-fuse: " + e.getMessage());
                    return;
                }
                if (n < IN_HEADER || n != in.get(ValueLayout.JAVA_INT, IN_LEN)) {
                    continue;
                }
                int len = handle(scratch, in, out);
                if (len == 0) {
                    continue; // no reply (FORGET, INTERRUPT)
                }
                if (len < 0) {
                    return; // DESTROY
                }
                try {
                    unistd_h.write(scratch, dev, out, 0, len, "/dev/fuse");
                } catch (SyscallException e) {
                    if (e.is(Errno.ENODEV)) {
                        return;
                    }
                    // ENOENT: the request was interrupted meanwhile; nothing waits for the answer
                }
            }
        } catch (RuntimeException | Error e) {
            log.println("composefs-fuse: worker stopped: " + e);
        }
    }

    /** Answers one request into out; the reply's length, 0 for none, -1 to stop. */
    private int handle(Scratch scratch, MemorySegment in, MemorySegment out) {
        int opcode = in.get(ValueLayout.JAVA_INT, IN_OPCODE);
        long unique = in.get(ValueLayout.JAVA_LONG, IN_UNIQUE);
        long nodeid = in.get(ValueLayout.JAVA_LONG, IN_NODEID);
        out.set(ValueLayout.JAVA_LONG, OUT_UNIQUE, unique);
        int r;
        try {
            r = switch (opcode) {
                case FUSE_INIT -> init(in, out);
                case FUSE_LOOKUP -> lookup(nodeid, in, out);
                case FUSE_GETATTR -> getattr(nodeid, out);
                case FUSE_READLINK -> readlink(nodeid, out);
                case FUSE_OPEN -> open(scratch, nodeid, out);
                case FUSE_READ -> read(scratch, in, out);
                case FUSE_RELEASE -> release(in);
                // the kernel takes ENOSYS as "no opendir/releasedir needed" (FUSE_NO_OPENDIR_SUPPORT):
                // two round trips fewer per directory listed
                case FUSE_OPENDIR -> noOpendir ? -Errno.ENOSYS : opendir(nodeid, out);
                case FUSE_READDIR -> readdir(nodeid, in, out, false);
                case FUSE_READDIRPLUS -> readdir(nodeid, in, out, true);
                case FUSE_RELEASEDIR, FUSE_FLUSH, FUSE_ACCESS -> OUT_HEADER;
                case FUSE_GETXATTR -> getxattr(nodeid, in, out);
                case FUSE_LISTXATTR -> listxattr(nodeid, in, out);
                case FUSE_STATFS -> statfs(out);
                case FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT -> 0;
                case FUSE_DESTROY -> -1;
                default -> -Errno.ENOSYS;
            };
        } catch (ErrnoReply e) {
            r = -e.errno;
        } catch (RuntimeException e) {
            log.println("composefs-fuse: opcode " + opcode + " on inode " + nodeid + ": " + e);
            r = -Errno.EIO;
        }
        if (r == 0 || r == -1 && opcode == FUSE_DESTROY) {
            return r;
        }
        if (r < 0) {
            out.set(ValueLayout.JAVA_INT, OUT_ERROR, r);
            out.set(ValueLayout.JAVA_INT, OUT_LEN, OUT_HEADER);
            return OUT_HEADER;
        }
        out.set(ValueLayout.JAVA_INT, OUT_ERROR, 0);
        out.set(ValueLayout.JAVA_INT, OUT_LEN, r);
        return r;
    }

    /** An error reply from deep in a handler. */
    private static final class ErrnoReply extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int errno;

        ErrnoReply(int errno) {
            super(null, null, false, false);
            this.errno = errno;
        }
    }

    private Node node(long nodeid) {
        Node n = inodes.node(nodeid);
        if (n == null) {
            throw new ErrnoReply(Errno.ENOENT);
        }
        return n;
    }

    private int init(MemorySegment in, MemorySegment out) {
        long body = IN_HEADER;
        int major = in.get(ValueLayout.JAVA_INT, body + INIT_IN_MAJOR);
        int minor = in.get(ValueLayout.JAVA_INT, body + INIT_IN_MINOR);
        long flags = Integer.toUnsignedLong(in.get(ValueLayout.JAVA_INT, body + INIT_IN_FLAGS));
        if (major != FUSE_KERNEL_VERSION) {
            throw new ErrnoReply(Errno.EPROTO);
        }
        if ((flags & FUSE_INIT_EXT) != 0) {
            flags |= Integer.toUnsignedLong(in.get(ValueLayout.JAVA_INT, body + INIT_IN_FLAGS2)) << 32;
        }
        long want = FUSE_ASYNC_READ | FUSE_EXPORT_SUPPORT | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO
                | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS | FUSE_INIT_EXT | FUSE_NO_OPENDIR_SUPPORT
                | (acl ? FUSE_POSIX_ACL : 0) | (passthroughWanted ? linux_fuse_passthrough_h.FUSE_PASSTHROUGH : 0);
        long granted = flags & want;
        passthrough = (granted & linux_fuse_passthrough_h.FUSE_PASSTHROUGH) != 0;
        noOpendir = (granted & FUSE_NO_OPENDIR_SUPPORT) != 0;
        long o = OUT_HEADER;
        var init = linux_fuse_passthrough_h.fuse_init_out;
        out.asSlice(o, init.byteSize()).fill((byte) 0);
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_MAJOR, FUSE_KERNEL_VERSION);
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_MINOR, Math.min(minor, MINOR));
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_MAX_READAHEAD,
                in.get(ValueLayout.JAVA_INT, body + INIT_IN_MAX_READAHEAD));
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_FLAGS, (int) granted);
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_FLAGS2, (int) (granted >>> 32));
        out.set(ValueLayout.JAVA_SHORT, o + PT_INIT_OUT_MAX_BACKGROUND, (short) 64);
        out.set(ValueLayout.JAVA_SHORT, o + PT_INIT_OUT_CONGESTION_THRESHOLD, (short) 48);
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_MAX_WRITE, 4096);
        out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_TIME_GRAN, 1);
        out.set(ValueLayout.JAVA_SHORT, o + PT_INIT_OUT_MAX_PAGES, (short) MAX_PAGES);
        if (passthrough) {
            out.set(ValueLayout.JAVA_INT, o + PT_INIT_OUT_MAX_STACK_DEPTH, 1);
        }
        return OUT_HEADER + (int) init.byteSize();
    }

    private int lookup(long parent, MemorySegment in, MemorySegment out) {
        Inodes.Entries entries = inodes.entries(parent);
        if (entries == null) {
            throw new ErrnoReply(Errno.ENOTDIR);
        }
        byte[] name = cString(in, IN_HEADER, in.get(ValueLayout.JAVA_INT, IN_LEN));
        int ino = entries.find(name);
        if (ino == 0) {
            // a negative entry the kernel may cache as long as a positive one: the tree never changes
            out.asSlice(OUT_HEADER, ENTRY_OUT).fill((byte) 0);
            out.set(ValueLayout.JAVA_LONG, OUT_HEADER + ENTRY_OUT_ENTRY_VALID, VALID_SECONDS);
            return OUT_HEADER + ENTRY_OUT;
        }
        entry(out, OUT_HEADER, ino);
        return OUT_HEADER + ENTRY_OUT;
    }

    /** A fuse_entry_out for ino at off. */
    private void entry(MemorySegment out, long off, long ino) {
        out.set(ValueLayout.JAVA_LONG, off + ENTRY_OUT_NODEID, ino);
        out.set(ValueLayout.JAVA_LONG, off + ENTRY_OUT_GENERATION, 1);
        out.set(ValueLayout.JAVA_LONG, off + ENTRY_OUT_ENTRY_VALID, VALID_SECONDS);
        out.set(ValueLayout.JAVA_LONG, off + ENTRY_OUT_ATTR_VALID, VALID_SECONDS);
        out.set(ValueLayout.JAVA_INT, off + ENTRY_OUT_ENTRY_VALID_NSEC, 0);
        out.set(ValueLayout.JAVA_INT, off + ENTRY_OUT_ATTR_VALID_NSEC, 0);
        attr(out, off + ENTRY_ATTR, ino, node(ino));
    }

    private int getattr(long ino, MemorySegment out) {
        Node n = node(ino);
        long o = OUT_HEADER;
        out.set(ValueLayout.JAVA_LONG, o + ATTR_OUT_ATTR_VALID, VALID_SECONDS);
        out.set(ValueLayout.JAVA_INT, o + ATTR_OUT_ATTR_VALID_NSEC, 0);
        out.set(ValueLayout.JAVA_INT, o + ATTR_OUT_DUMMY, 0);
        attr(out, o + ATTR_OUT_ATTR, ino, n);
        return OUT_HEADER + (int) fuse_attr_out.byteSize();
    }

    /** A fuse_attr: what stat shows of the inode, as the kernel's mount of the image shows it. */
    private void attr(MemorySegment out, long off, long ino, Node n) {
        Meta m = n.meta();
        long size = inodes.size(ino);
        long rdev = n instanceof Device d ? d.rdev() : 0;
        out.set(ValueLayout.JAVA_LONG, off + ATTR_INO, ino);
        out.set(ValueLayout.JAVA_LONG, off + ATTR_SIZE, size);
        out.set(ValueLayout.JAVA_LONG, off + ATTR_BLOCKS, Attributes.blocks(size));
        out.set(ValueLayout.JAVA_LONG, off + ATTR_ATIME, m.mtimeSec());
        out.set(ValueLayout.JAVA_LONG, off + ATTR_MTIME, m.mtimeSec());
        out.set(ValueLayout.JAVA_LONG, off + ATTR_CTIME, m.mtimeSec());
        out.set(ValueLayout.JAVA_INT, off + ATTR_ATIMENSEC, m.mtimeNsec());
        out.set(ValueLayout.JAVA_INT, off + ATTR_MTIMENSEC, m.mtimeNsec());
        out.set(ValueLayout.JAVA_INT, off + ATTR_CTIMENSEC, m.mtimeNsec());
        out.set(ValueLayout.JAVA_INT, off + ATTR_MODE, m.mode());
        out.set(ValueLayout.JAVA_INT, off + ATTR_NLINK, m.nlink());
        out.set(ValueLayout.JAVA_INT, off + ATTR_UID, m.uid());
        out.set(ValueLayout.JAVA_INT, off + ATTR_GID, m.gid());
        out.set(ValueLayout.JAVA_INT, off + ATTR_RDEV, Attributes.newEncodedDev(rdev));
        out.set(ValueLayout.JAVA_INT, off + ATTR_BLKSIZE, 4096);
        out.set(ValueLayout.JAVA_INT, off + ATTR_FLAGS, 0);
    }

    private int readlink(long ino, MemorySegment out) {
        if (!(node(ino) instanceof Symlink s)) {
            throw new ErrnoReply(Errno.EINVAL);
        }
        byte[] t = s.target().getBytes(StandardCharsets.ISO_8859_1);
        Native.copy(t, 0, out, OUT_HEADER, t.length);
        return OUT_HEADER + t.length;
    }

    private int open(Scratch scratch, long ino, MemorySegment out) {
        Node n = node(ino);
        if (!(n instanceof RegularFile f)) {
            throw new ErrnoReply(n instanceof Directory ? Errno.EISDIR : Errno.EINVAL);
        }
        int fd = 0;
        // NOFLUSH: nothing is ever written, so close(2) need not wait for a FLUSH round trip
        int flags = FOPEN_KEEP_CACHE | FOPEN_NOFLUSH;
        int backingId = 0;
        boolean backed = false;
        if (!f.isInline() && f.payload() != null && f.size() > 0) {
            try {
                fd = objects.open(scratch, f);
            } catch (IOException e) {
                throw new ErrnoReply(Errno.EIO);
            }
            if (passthrough) {
                try {
                    backingId = objects.backingOpen(dev, ino, fd, f.payload());
                    // no KEEP_CACHE, which the kernel refuses with it: the page cache is the object's own
                    flags = linux_fuse_passthrough_h.FOPEN_PASSTHROUGH | FOPEN_NOFLUSH;
                    backed = true;
                } catch (SyscallException e) {
                    log.println("composefs-fuse: no passthrough for " + f.payload() + ": " + e.getMessage());
                }
            }
        }
        long handle = nextHandle.getAndIncrement();
        open.put(handle, new Open(ino, fd, backed));
        var openOut = linux_fuse_passthrough_h.fuse_open_out;
        out.set(ValueLayout.JAVA_LONG, OUT_HEADER + PT_OPEN_OUT_FH, handle);
        out.set(ValueLayout.JAVA_INT, OUT_HEADER + PT_OPEN_OUT_OPEN_FLAGS, flags);
        out.set(ValueLayout.JAVA_INT, OUT_HEADER + PT_OPEN_OUT_BACKING_ID, backingId);
        return OUT_HEADER + (int) openOut.byteSize();
    }

    private int read(Scratch scratch, MemorySegment in, MemorySegment out) {
        long fh = in.get(ValueLayout.JAVA_LONG, IN_HEADER + READ_IN_FH);
        long offset = in.get(ValueLayout.JAVA_LONG, IN_HEADER + READ_IN_OFFSET);
        int size = Math.min(in.get(ValueLayout.JAVA_INT, IN_HEADER + READ_IN_SIZE), MAX_READ);
        Open o = open.get(fh);
        if (o == null) {
            throw new ErrnoReply(Errno.EBADF);
        }
        RegularFile f = (RegularFile) node(o.ino());
        if (o.fd() == 0) {
            byte[] content = f.content();
            if (content == null || offset >= content.length) {
                return OUT_HEADER;
            }
            int n = (int) Math.min(size, content.length - offset);
            Native.copy(content, (int) offset, out, OUT_HEADER, n);
            return OUT_HEADER + n;
        }
        long done = 0;
        try {
            while (done < size) {
                long k = unistd_h.pread(scratch, o.fd(), out, OUT_HEADER + done, size - done, offset + done, f.payload());
                if (k == 0) {
                    break;
                }
                done += k;
            }
        } catch (SyscallException e) {
            throw new ErrnoReply(e.errno());
        }
        return OUT_HEADER + (int) done;
    }

    private int release(MemorySegment in) {
        long fh = in.get(ValueLayout.JAVA_LONG, IN_HEADER + RELEASE_IN_FH);
        Open o = open.remove(fh);
        if (o != null) {
            if (o.backed()) {
                objects.backingRelease(dev, o.ino());
            }
            if (o.fd() > 0) {
                unistd_h.closeQuietly(o.fd());
            }
        }
        return OUT_HEADER;
    }

    private int opendir(long ino, MemorySegment out) {
        if (inodes.entries(ino) == null) {
            throw new ErrnoReply(Errno.ENOTDIR);
        }
        out.set(ValueLayout.JAVA_LONG, OUT_HEADER + OPEN_OUT_FH, 0);
        out.set(ValueLayout.JAVA_INT, OUT_HEADER + OPEN_OUT_OPEN_FLAGS,
                FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
        out.set(ValueLayout.JAVA_INT, OUT_HEADER + OPEN_OUT_PADDING, 0);
        return OUT_HEADER + (int) fuse_open_out.byteSize();
    }

    /** Entries from index offset on ("." is 0, ".." 1, then the names in order), as many as fit in size. */
    private int readdir(long ino, MemorySegment in, MemorySegment out, boolean plus) {
        Inodes.Entries entries = inodes.entries(ino);
        if (entries == null) {
            throw new ErrnoReply(Errno.ENOTDIR);
        }
        long offset = in.get(ValueLayout.JAVA_LONG, IN_HEADER + READ_IN_OFFSET);
        int size = Math.min(in.get(ValueLayout.JAVA_INT, IN_HEADER + READ_IN_SIZE), MAX_READ);
        int total = entries.names().length + 2;
        long pos = OUT_HEADER;
        long end = OUT_HEADER + (long) size;
        for (long i = offset; i < total; i++) {
            byte[] name;
            long child;
            if (i == 0) {
                name = DOT;
                child = ino;
            } else if (i == 1) {
                name = DOTDOT;
                child = inodes.parent(ino);
            } else {
                name = entries.names()[(int) i - 2];
                child = entries.inodes()[(int) i - 2];
            }
            long direntAt = plus ? pos + DIRENTPLUS_DIRENT : pos;
            long recordEnd = align8(direntAt + DIRENT + name.length);
            if (recordEnd > end) {
                break;
            }
            if (plus) {
                if (i < 2) {
                    out.asSlice(pos, ENTRY_OUT).fill((byte) 0); // no entry for . and ..: the kernel skips them
                } else {
                    entry(out, pos, child);
                }
            }
            Node n = node(child);
            out.set(ValueLayout.JAVA_LONG, direntAt + DIRENT_INO, child);
            out.set(ValueLayout.JAVA_LONG, direntAt + DIRENT_OFF, i + 1);
            out.set(ValueLayout.JAVA_INT, direntAt + DIRENT_NAMELEN, name.length);
            out.set(ValueLayout.JAVA_INT, direntAt + DIRENT_TYPE, Inodes.type(n) >>> 12);
            Native.copy(name, 0, out, direntAt + DIRENT, name.length);
            for (long p = direntAt + DIRENT + name.length; p < recordEnd; p++) {
                out.set(ValueLayout.JAVA_BYTE, p, (byte) 0);
            }
            pos = recordEnd;
        }
        return (int) pos;
    }

    private static final byte[] DOT = {'.'};
    private static final byte[] DOTDOT = {'.', '.'};

    private static long align8(long x) {
        return (x + 7) & ~7L;
    }

    private int getxattr(long ino, MemorySegment in, MemorySegment out) {
        Xattrs x = node(ino).meta().xattrs();
        int size = in.get(ValueLayout.JAVA_INT, IN_HEADER + GETXATTR_IN_SIZE);
        long nameAt = IN_HEADER + fuse_getxattr_in.byteSize();
        String name = new String(cString(in, nameAt, in.get(ValueLayout.JAVA_INT, IN_LEN)), StandardCharsets.ISO_8859_1);
        byte[] value = x.get(name);
        if (value == null || !acl && name.startsWith("system.posix_acl_")) {
            throw new ErrnoReply(Errno.ENODATA);
        }
        return sized(out, value, size);
    }

    private int listxattr(long ino, MemorySegment in, MemorySegment out) {
        Xattrs x = node(ino).meta().xattrs();
        int size = in.get(ValueLayout.JAVA_INT, IN_HEADER + GETXATTR_IN_SIZE);
        boolean privileged = in.get(ValueLayout.JAVA_INT, IN_UID) == 0;
        ByteArrayOutputStream names = new ByteArrayOutputStream();
        for (Map.Entry<String, byte[]> e : x.entries()) {
            String k = e.getKey();
            // as the kernel lists an image's xattrs: trusted ones to the privileged only
            if (!privileged && k.startsWith("trusted.") || !acl && k.startsWith("system.posix_acl_")) {
                continue;
            }
            names.writeBytes(k.getBytes(StandardCharsets.ISO_8859_1));
            names.write(0);
        }
        return sized(out, names.toByteArray(), size);
    }

    /** A getxattr/listxattr answer: the size alone where size is 0, else the bytes, or ERANGE. */
    private static int sized(MemorySegment out, byte[] value, int size) {
        if (size == 0) {
            out.set(ValueLayout.JAVA_INT, OUT_HEADER + GETXATTR_OUT_SIZE, value.length);
            out.set(ValueLayout.JAVA_INT, OUT_HEADER + GETXATTR_OUT_PADDING, 0);
            return OUT_HEADER + (int) fuse_getxattr_out.byteSize();
        }
        if (value.length > size) {
            throw new ErrnoReply(Errno.ERANGE);
        }
        Native.copy(value, 0, out, OUT_HEADER, value.length);
        return OUT_HEADER + value.length;
    }

    private int statfs(MemorySegment out) {
        long o = OUT_HEADER;
        out.asSlice(o, fuse_kstatfs.byteSize()).fill((byte) 0);
        out.set(ValueLayout.JAVA_LONG, o + KSTATFS_FILES, inodes.count());
        out.set(ValueLayout.JAVA_INT, o + KSTATFS_BSIZE, 4096);
        out.set(ValueLayout.JAVA_INT, o + KSTATFS_FRSIZE, 4096);
        out.set(ValueLayout.JAVA_INT, o + KSTATFS_NAMELEN, 255);
        return OUT_HEADER + (int) fuse_kstatfs.byteSize();
    }

    /** The NUL-terminated string at off (or up to end). */
    private static byte[] cString(MemorySegment in, long off, long end) {
        long p = off;
        while (p < end && in.get(ValueLayout.JAVA_BYTE, p) != 0) {
            p++;
        }
        byte[] b = new byte[(int) (p - off)];
        Native.copy(in, off, b, 0, b.length);
        return b;
    }
}
