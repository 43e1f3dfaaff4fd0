package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;
import static dev.composefs.bindings.Native.C_SHORT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** sys/stat.h (with linux/stat.h): statx(2), mknodat(2) and the file type bits. */
public final class sys_stat_h {
    private sys_stat_h() {}

    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;

    public static final int STATX_TYPE = 0x0001;
    public static final int STATX_MODE = 0x0002;
    public static final int STATX_NLINK = 0x0004;
    public static final int STATX_UID = 0x0008;
    public static final int STATX_GID = 0x0010;
    public static final int STATX_ATIME = 0x0020;
    public static final int STATX_MTIME = 0x0040;
    public static final int STATX_CTIME = 0x0080;
    public static final int STATX_INO = 0x0100;
    public static final int STATX_SIZE = 0x0200;
    public static final int STATX_BLOCKS = 0x0400;
    public static final int STATX_BASIC_STATS = 0x07ff;
    public static final int STATX_BTIME = 0x0800;
    public static final int STATX_MNT_ID = 0x1000;
    public static final long STATX_ATTR_VERITY = 0x00100000L;
    public static final int AT_STATX_SYNC_AS_STAT = 0x0000;

    /** struct statx_timestamp. */
    public static final StructLayout statx_timestamp = MemoryLayout.structLayout(
            C_LONG.withName("tv_sec"),
            C_INT.withName("tv_nsec"),
            C_INT.withName("__reserved")).withName("statx_timestamp");

    /** struct statx (256 bytes; the spare tail is reserved for future fields). */
    public static final StructLayout statx = MemoryLayout.structLayout(
            C_INT.withName("stx_mask"),
            C_INT.withName("stx_blksize"),
            C_LONG.withName("stx_attributes"),
            C_INT.withName("stx_nlink"),
            C_INT.withName("stx_uid"),
            C_INT.withName("stx_gid"),
            C_SHORT.withName("stx_mode"),
            MemoryLayout.paddingLayout(2),
            C_LONG.withName("stx_ino"),
            C_LONG.withName("stx_size"),
            C_LONG.withName("stx_blocks"),
            C_LONG.withName("stx_attributes_mask"),
            statx_timestamp.withName("stx_atime"),
            statx_timestamp.withName("stx_btime"),
            statx_timestamp.withName("stx_ctime"),
            statx_timestamp.withName("stx_mtime"),
            C_INT.withName("stx_rdev_major"),
            C_INT.withName("stx_rdev_minor"),
            C_INT.withName("stx_dev_major"),
            C_INT.withName("stx_dev_minor"),
            C_LONG.withName("stx_mnt_id"),
            MemoryLayout.paddingLayout(256 - 152)).withName("statx");

    // Field offsets resolved once: a layout path lookup per call is measurable in a tree walk.
    private static final long OFF_MASK = off("stx_mask");
    private static final long OFF_ATTRIBUTES = off("stx_attributes");
    private static final long OFF_NLINK = off("stx_nlink");
    private static final long OFF_UID = off("stx_uid");
    private static final long OFF_GID = off("stx_gid");
    private static final long OFF_MODE = off("stx_mode");
    private static final long OFF_INO = off("stx_ino");
    private static final long OFF_SIZE = off("stx_size");
    private static final long OFF_MTIME = off("stx_mtime");
    private static final long OFF_RDEV_MAJOR = off("stx_rdev_major");
    private static final long OFF_RDEV_MINOR = off("stx_rdev_minor");
    private static final long OFF_DEV_MAJOR = off("stx_dev_major");
    private static final long OFF_DEV_MINOR = off("stx_dev_minor");
    private static final long OFF_MNT_ID = off("stx_mnt_id");

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class statx_libc { // not "statx": that is the struct layout's name
        static final MethodHandle HANDLE = Native.downcall("statx",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT, C_INT, C_POINTER));
    }

    private static final class mknodat {
        static final MethodHandle HANDLE = Native.downcall("mknodat",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT, C_LONG));
    }

    private static final class mkdirat {
        static final MethodHandle HANDLE = Native.downcall("mkdirat",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    }

    private static final class fchmod {
        static final MethodHandle HANDLE = Native.downcall("fchmod", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    }

    /** The parts of struct statx that composefs uses. */
    public record Statx(int mask, long attributes, int nlink, int uid, int gid, int mode, long ino, long size,
            long mtimeSec, int mtimeNsec, int rdevMajor, int rdevMinor, int devMajor, int devMinor) {
        public int type() {
            return mode & S_IFMT;
        }

        public boolean isVerity() {
            return (attributes & STATX_ATTR_VERITY) != 0;
        }

        /** The rdev as glibc's makedev() packs it (what composefs dumps print). */
        public long rdev() {
            return makedev(rdevMajor, rdevMinor);
        }
    }

    public static Statx statx(int dirfd, String path, int flags, int mask) throws SyscallException {
        return statx(dirfd, path.getBytes(StandardCharsets.UTF_8), flags, mask);
    }

    /** statx(2) with the path as raw bytes, for names that are not valid UTF-8. */
    public static Statx statx(int dirfd, byte[] path, int flags, int mask) throws SyscallException {
        return statx(null, dirfd, path, flags, mask);
    }

    /** statx(2) of the open file fd itself (AT_EMPTY_PATH), in the calling thread's scratch (or null). */
    public static Statx statx(Scratch scratch, int fd, int mask) throws SyscallException {
        return statx(scratch, fd, NO_PATH, fcntl_h.AT_EMPTY_PATH, mask);
    }

    private static final byte[] NO_PATH = {};

    /** {@link #statx(int, byte[], int, int)} in the calling thread's scratch (or null). */
    public static Statx statx(Scratch scratch, int dirfd, byte[] path, int flags, int mask) throws SyscallException {
        return Scratch.within(scratch, s -> {
            ByteBuffer b = call(s, dirfd, path, flags, mask);
            return new Statx(
                    b.getInt((int) OFF_MASK),
                    b.getLong((int) OFF_ATTRIBUTES),
                    b.getInt((int) OFF_NLINK),
                    b.getInt((int) OFF_UID),
                    b.getInt((int) OFF_GID),
                    Short.toUnsignedInt(b.getShort((int) OFF_MODE)),
                    b.getLong((int) OFF_INO),
                    b.getLong((int) OFF_SIZE),
                    b.getLong((int) OFF_MTIME),
                    b.getInt((int) OFF_MTIME + 8),
                    b.getInt((int) OFF_RDEV_MAJOR),
                    b.getInt((int) OFF_RDEV_MINOR),
                    b.getInt((int) OFF_DEV_MAJOR),
                    b.getInt((int) OFF_DEV_MINOR));
        });
    }

    /**
     * The mount ID of path (STATX_MNT_ID: /proc/self/mountinfo's first field), or 0 where the
     * kernel gives none. Apart from {@link Statx}, whose every field costs in a tree walk: a
     * scan of 55k files allocates its records by the million.
     */
    public static long mountId(int dirfd, String path, int flags) throws SyscallException {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        return Scratch.within(null, s -> {
            ByteBuffer b = call(s, dirfd, p, flags, STATX_MNT_ID);
            return (b.getInt((int) OFF_MASK) & STATX_MNT_ID) != 0 ? b.getLong((int) OFF_MNT_ID) : 0L;
        });
    }

    /**
     * The statx(2) call into a struct in s, read through a ByteBuffer view: MemorySegment.get
     * initialises the JDK's layout paths (see Native.offsetOf), start-up a mount helper run can
     * do without.
     */
    private static ByteBuffer call(Scratch s, int dirfd, byte[] path, int flags, int mask)
            throws SyscallException {
        MemorySegment buf = s.allocate(statx);
        Native.call(s, "statx", Native.display(path), (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.statx.number, dirfd, unistd_h.addr(Native.cstr(a, path)), flags, mask,
                        buf.address(), 0)
                : (int) statx_libc.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), flags, mask, buf));
        return buf.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    private static long off(String field) {
        return Native.offsetOf(statx, field);
    }

    public static void mkdirat(int dirfd, String path, int mode) throws SyscallException {
        Native.call("mkdirat", path, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.mkdirat.number, dirfd, unistd_h.addr(Native.cstr(a, path)), mode, 0, 0, 0)
                : (int) mkdirat.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), mode));
    }

    public static void fchmod(int fd, int mode, String what) throws SyscallException {
        Native.call("fchmod", what, (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.fchmod.number, fd, mode, 0, 0, 0, 0)
                : (int) fchmod.HANDLE.invokeExact(st, fd, mode));
    }

    public static void mknodat(int dirfd, String path, int mode, long dev) throws SyscallException {
        Native.call("mknodat", path, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.mknodat.number, dirfd, unistd_h.addr(Native.cstr(a, path)), mode, dev, 0, 0)
                : (int) mknodat.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), mode, dev));
    }

    /** glibc's gnu_dev_makedev. */
    public static long makedev(int major, int minor) {
        long ma = Integer.toUnsignedLong(major);
        long mi = Integer.toUnsignedLong(minor);
        return ((ma & 0x00000fffL) << 8) | ((ma & 0xfffff000L) << 32) | (mi & 0x000000ffL) | ((mi & 0xffffff00L) << 12);
    }

    public static int major(long dev) {
        return (int) (((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0x00000fffL));
    }

    public static int minor(long dev) {
        return (int) (((dev >>> 12) & 0xffffff00L) | (dev & 0x000000ffL));
    }
}
