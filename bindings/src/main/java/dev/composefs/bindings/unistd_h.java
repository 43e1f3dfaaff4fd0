package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Objects;

/** unistd.h and sys/syscall.h: fd basics and the raw syscall(2) entry for calls glibc may lack. */
@SuppressWarnings("checkstyle:TypeName")
public final class unistd_h {
    private unistd_h() {}

    // Syscall numbers of the calls without (old enough) glibc wrappers; same on every 64-bit arch.
    public static final long SYS_open_tree = 428;
    public static final long SYS_move_mount = 429;
    public static final long SYS_fsopen = 430;
    public static final long SYS_fsconfig = 431;
    public static final long SYS_fsmount = 432;
    public static final long SYS_fspick = 433;
    public static final long SYS_openat2 = 437;
    public static final long SYS_mount_setattr = 442;

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class close {
        static final MethodHandle HANDLE = Native.downcall("close", FunctionDescriptor.of(C_INT, C_INT));
    }

    private static final class fsync {
        static final MethodHandle HANDLE = Native.downcall("fsync", FunctionDescriptor.of(C_INT, C_INT));
    }

    private static final class syncfs {
        static final MethodHandle HANDLE = Native.downcall("syncfs", FunctionDescriptor.of(C_INT, C_INT));
    }

    private static final class geteuid {
        static final MethodHandle HANDLE = Native.plain("geteuid", FunctionDescriptor.of(C_INT));
    }

    private static final class getegid {
        static final MethodHandle HANDLE = Native.plain("getegid", FunctionDescriptor.of(C_INT));
    }

    private static final class getpid {
        static final MethodHandle HANDLE = Native.plain("getpid", FunctionDescriptor.of(C_INT));
    }

    private static final class read {
        static final MethodHandle HANDLE = Native.downcall("read",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    }

    private static final class pread {
        static final MethodHandle HANDLE = Native.downcall("pread",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG, C_LONG));
    }

    private static final class write {
        static final MethodHandle HANDLE = Native.downcall("write",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    }

    private static final class readlinkat {
        static final MethodHandle HANDLE = Native.downcall("readlinkat",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class unlinkat {
        static final MethodHandle HANDLE = Native.downcall("unlinkat",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    }

    private static final class linkat {
        static final MethodHandle HANDLE = Native.downcall("linkat",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT, C_POINTER, C_INT));
    }

    private static final class copy_file_range {
        static final MethodHandle HANDLE = Native.downcall("copy_file_range",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_INT, C_POINTER, C_LONG, C_INT));
    }

    private static final class lseek {
        static final MethodHandle HANDLE = Native.downcall("lseek",
                FunctionDescriptor.of(C_LONG, C_INT, C_LONG, C_INT));
    }

    private static final class ftruncate {
        static final MethodHandle HANDLE = Native.downcall("ftruncate", FunctionDescriptor.of(C_INT, C_INT, C_LONG));
    }

    private static final class setsid {
        static final MethodHandle HANDLE = Native.downcall("setsid", FunctionDescriptor.of(C_INT));
    }

    private static final class isatty {
        static final MethodHandle HANDLE = Native.plain("isatty", FunctionDescriptor.of(C_INT, C_INT));
    }
    /** Linux's PATH_MAX: the longest symlink target readlinkat can return, plus the NUL it never writes. */
    private static final int PATH_MAX = 4096;

    /**
     * syscall(2) with all six argument registers: the kernel ignores the ones a call does not
     * take, and one signature means one downcall stub to link (each costs start-up time, see
     * Classic). syscall(2) is variadic, but on the architectures with a syscall table here its
     * integer arguments travel exactly as named ones do: x86-64's syscall is an assembly stub that
     * ignores %al (the only difference a variadic call makes there), and arm64's, riscv64's and
     * loongarch64's calling conventions pass variadic integers in the same registers. Linked as a
     * plain function it spins fewer classes at first use, which every run pays. Elsewhere it is
     * linked as what it is.
     */
    private static final class syscall6 {
        static final FunctionDescriptor DESC =
                FunctionDescriptor.of(C_LONG, C_LONG, C_LONG, C_LONG, C_LONG, C_LONG, C_LONG, C_LONG);
        static final MethodHandle HANDLE = Classic.Table.COLUMN >= 0 ? Native.downcall("syscall", DESC)
                : Native.variadic("syscall", DESC, 1);
    }

    public static void close(int fd) throws SyscallException {
        close(null, fd);
    }

    /** {@link #close(int)} in the calling thread's scratch (or null). */
    public static void close(Scratch scratch, int fd) throws SyscallException {
        Native.call(scratch, "close", "fd " + fd, (st, a) -> Classic.RAW ? syscall6(st, Classic.close.number, fd, 0, 0, 0, 0, 0)
                : (int) close.HANDLE.invokeExact(st, fd));
    }

    /** close(2) for cleanup paths, where a failure must not hide the original error. */
    public static void closeQuietly(int fd) {
        closeQuietly(null, fd);
    }

    /** {@link #closeQuietly(int)} in the calling thread's scratch (or null). */
    public static void closeQuietly(Scratch scratch, int fd) {
        if (fd >= 0) {
            try {
                close(scratch, fd);
            } catch (SyscallException ignored) {
                // the fd is released by the kernel even when close reports an error
            }
        }
    }

    public static void fsync(int fd, String what) throws SyscallException {
        Native.call("fsync", what, (st, a) -> Classic.RAW ? syscall6(st, Classic.fsync.number, fd, 0, 0, 0, 0, 0)
                : (int) fsync.HANDLE.invokeExact(st, fd));
    }

    /** syncfs(2): everything written to the filesystem that holds fd reaches the disk. */
    public static void syncfs(int fd, String what) throws SyscallException {
        Native.call("syncfs", what, (st, a) -> Classic.RAW ? syscall6(st, Classic.syncfs.number, fd, 0, 0, 0, 0, 0)
                : (int) syncfs.HANDLE.invokeExact(st, fd));
    }

    /** read(2) into buf (up to its size); 0 at end of file. */
    public static long read(int fd, MemorySegment buf, String what) throws SyscallException {
        return read(fd, buf, 0, buf.byteSize(), what);
    }

    /** read(2) of at most count bytes into buf at offset (within its size); 0 at end of file. */
    public static long read(int fd, MemorySegment buf, long offset, long count, String what) throws SyscallException {
        return read(null, fd, buf, offset, count, what);
    }

    /** {@link #read(int, MemorySegment, long, long, String)} in the calling thread's scratch (or null). */
    public static long read(Scratch scratch, int fd, MemorySegment buf, long offset, long count, String what)
            throws SyscallException {
        Objects.checkFromIndexSize(offset, count, buf.byteSize());
        return Native.call(scratch, "read", what, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.read.number, fd, buf.address() + offset, count, 0, 0, 0)
                : (long) read.HANDLE.invokeExact(st, fd, buf.asSlice(offset), count));
    }

    /**
     * pread(2) of at most count bytes at file position pos into buf at offset (within its size);
     * 0 at end of file. It leaves the file offset alone, so threads may read one fd at once.
     */
    public static long pread(Scratch scratch, int fd, MemorySegment buf, long offset, long count, long pos, String what)
            throws SyscallException {
        Objects.checkFromIndexSize(offset, count, buf.byteSize());
        return Native.call(scratch, "pread", what, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.pread64.number, fd, buf.address() + offset, count, pos, 0, 0)
                : (long) pread.HANDLE.invokeExact(st, fd, buf.asSlice(offset), count, pos));
    }

    /** write(2) of all of buf[0, len), looping over short writes. */
    public static void writeFully(int fd, MemorySegment buf, long len, String what) throws SyscallException {
        long done = 0;
        while (done < len) {
            MemorySegment rest = buf.asSlice(done, len - done);
            done += Native.call("write", what, (st, a) -> Classic.RAW
                    ? syscall6(st, Classic.write.number, fd, rest.address(), rest.byteSize(), 0, 0, 0)
                    : (long) write.HANDLE.invokeExact(st, fd, rest, rest.byteSize()));
        }
    }

    /** One write(2) of buf[offset, offset + count) in the thread's scratch (or null); the count written. */
    public static long write(Scratch scratch, int fd, MemorySegment buf, long offset, long count, String what)
            throws SyscallException {
        Objects.checkFromIndexSize(offset, count, buf.byteSize());
        return Native.call(scratch, "write", what, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.write.number, fd, buf.address() + offset, count, 0, 0, 0)
                : (long) write.HANDLE.invokeExact(st, fd, buf.asSlice(offset), count));
    }

    /** setsid(2): a session of its own, so a terminal's hangup and ^C no longer reach this process. */
    public static void setsid() throws SyscallException {
        Native.call("setsid", "", (st, a) -> (int) setsid.HANDLE.invokeExact(st));
    }

    /** readlinkat(2): a symlink's target as raw bytes. */
    public static byte[] readlinkat(int dirfd, byte[] path) throws SyscallException {
        return readlinkat(null, dirfd, path);
    }

    /** {@link #readlinkat(int, byte[])} in the calling thread's scratch (or null). */
    public static byte[] readlinkat(Scratch scratch, int dirfd, byte[] path) throws SyscallException {
        return Scratch.within(scratch, s -> {
            MemorySegment buf = s.allocate(PATH_MAX);
            long n = Native.call(s, "readlinkat", Native.display(path), (st, a) -> Classic.RAW
                    ? syscall6(st, Classic.readlinkat.number, dirfd, addr(Native.cstr(a, path)), buf.address(), PATH_MAX, 0, 0)
                    : (long) readlinkat.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), buf, (long) PATH_MAX));
            return Native.toBytes(buf, n);
        });
    }

    public static void unlinkat(int dirfd, String path, int flags) throws SyscallException {
        Native.call("unlinkat", path, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.unlinkat.number, dirfd, addr(Native.cstr(a, path)), flags, 0, 0, 0)
                : (int) unlinkat.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), flags));
    }

    /** linkat(2): a further name for oldpath (with AT_SYMLINK_FOLLOW, /proc/self/fd/N names an O_TMPFILE file). */
    public static void linkat(int olddirfd, String oldpath, int newdirfd, String newpath, int flags)
            throws SyscallException {
        Native.call("linkat", oldpath + " -> " + newpath, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.linkat.number, olddirfd, addr(Native.cstr(a, oldpath)), newdirfd,
                        addr(Native.cstr(a, newpath)), flags, 0)
                : (int) linkat.HANDLE.invokeExact(st, olddirfd, Native.cstr(a, oldpath), newdirfd, Native.cstr(a, newpath),
                        flags));
    }

    /** copy_file_range(2) from the current offsets; returns bytes copied, 0 at end of input. */
    public static long copyFileRange(int fdIn, int fdOut, long len, String what) throws SyscallException {
        return Native.call("copy_file_range", what, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.copy_file_range.number, fdIn, 0, fdOut, 0, len, 0)
                : (long) copy_file_range.HANDLE.invokeExact(st, fdIn, MemorySegment.NULL, fdOut, MemorySegment.NULL, len, 0));
    }

    public static final int SEEK_SET = 0;
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    public static void ftruncate(int fd, long length, String what) throws SyscallException {
        Native.call("ftruncate", what, (st, a) -> Classic.RAW ? syscall6(st, Classic.ftruncate.number, fd, length, 0, 0, 0, 0)
                : (int) ftruncate.HANDLE.invokeExact(st, fd, length));
    }

    public static long lseek(int fd, long offset, int whence, String what) throws SyscallException {
        return Native.call("lseek", what, (st, a) -> Classic.RAW
                ? syscall6(st, Classic.lseek.number, fd, offset, whence, 0, 0, 0)
                : (long) lseek.HANDLE.invokeExact(st, fd, offset, whence));
    }

    /** isatty(3): whether fd is a terminal, which is whether the terminal ioctl TCGETS works on it (all glibc's isatty does). */
    public static boolean isatty(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            if (!Classic.RAW) {
                return (int) isatty.HANDLE.invokeExact(fd) == 1;
            }
            MemorySegment termios = arena.allocate(64); // struct termios is 36 to 60 bytes, by architecture
            return syscall6(Native.errnoState(arena), Classic.ioctl.number, fd, sys_ioctl_h.TCGETS, termios.address(), 0, 0, 0) == 0;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    public static int geteuid() {
        try {
            return (int) geteuid.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    public static int getegid() {
        try {
            return (int) getegid.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    public static int getpid() {
        try {
            return (int) getpid.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    /**
     * syscall(2) with up to six arguments passed as full 64-bit registers (pointers as their
     * address), so no argument is left with undefined upper bits.
     */
    public static long syscall(String name, String target, long number, long... args) throws SyscallException {
        if (args.length > 6) {
            throw new IllegalArgumentException("syscall takes at most 6 arguments");
        }
        long[] r = Arrays.copyOf(args, 6);
        return Native.call(name, target, (st, a) -> syscall6(st, number, r[0], r[1], r[2], r[3], r[4], r[5]));
    }

    /** One syscall(2) with errno captured into st, for bindings that build their arguments in a {@link Native#call} arena. */
    static long syscall6(MemorySegment st, long number, long a0, long a1, long a2, long a3, long a4, long a5)
            throws Throwable {
        return (long) syscall6.HANDLE.invokeExact(st, number, a0, a1, a2, a3, a4, a5);
    }

    static long addr(MemorySegment s) {
        return s == null ? 0L : s.address();
    }
}
