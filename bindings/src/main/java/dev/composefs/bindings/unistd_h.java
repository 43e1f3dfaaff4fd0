package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

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

    private static final MethodHandle CLOSE = Native.downcall("close", FunctionDescriptor.of(C_INT, C_INT));
    private static final MethodHandle FSYNC = Native.downcall("fsync", FunctionDescriptor.of(C_INT, C_INT));
    private static final MethodHandle GETEUID = Native.plain("geteuid", FunctionDescriptor.of(C_INT));
    private static final MethodHandle GETPID = Native.plain("getpid", FunctionDescriptor.of(C_INT));
    private static final MethodHandle READ = Native.downcall("read",
            FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    private static final MethodHandle WRITE = Native.downcall("write",
            FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    private static final MethodHandle READLINKAT = Native.downcall("readlinkat",
            FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_POINTER, C_LONG));
    private static final MethodHandle UNLINKAT = Native.downcall("unlinkat",
            FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    private static final MethodHandle COPY_FILE_RANGE = Native.downcall("copy_file_range",
            FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_INT, C_POINTER, C_LONG, C_INT));
    private static final MethodHandle LSEEK = Native.downcall("lseek",
            FunctionDescriptor.of(C_LONG, C_INT, C_LONG, C_INT));
    private static final MethodHandle ISATTY = Native.plain("isatty", FunctionDescriptor.of(C_INT, C_INT));
    /** Linux's PATH_MAX: the longest symlink target readlinkat can return, plus the NUL it never writes. */
    private static final int PATH_MAX = 4096;
    private static final MethodHandle[] SYSCALL = new MethodHandle[7];

    static {
        for (int n = 0; n <= 6; n++) {
            var args = new java.lang.foreign.MemoryLayout[n + 1];
            java.util.Arrays.fill(args, C_LONG);
            SYSCALL[n] = Native.variadic("syscall", FunctionDescriptor.of(C_LONG, args), 1);
        }
    }

    public static void close(int fd) throws SyscallException {
        Native.call("close", "fd " + fd, (st, a) -> (int) CLOSE.invokeExact(st, fd));
    }

    /** close(2) for cleanup paths, where a failure must not hide the original error. */
    public static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (SyscallException ignored) {
                // the fd is released by the kernel even when close reports an error
            }
        }
    }

    public static void fsync(int fd, String what) throws SyscallException {
        Native.call("fsync", what, (st, a) -> (int) FSYNC.invokeExact(st, fd));
    }

    /** read(2) into buf (up to its size); 0 at end of file. */
    public static long read(int fd, MemorySegment buf, String what) throws SyscallException {
        return Native.call("read", what, (st, a) -> (long) READ.invokeExact(st, fd, buf, buf.byteSize()));
    }

    /** write(2) of all of buf[0, len), looping over short writes. */
    public static void writeFully(int fd, MemorySegment buf, long len, String what) throws SyscallException {
        long done = 0;
        while (done < len) {
            MemorySegment rest = buf.asSlice(done, len - done);
            done += Native.call("write", what, (st, a) -> (long) WRITE.invokeExact(st, fd, rest, rest.byteSize()));
        }
    }

    /** readlinkat(2): a symlink's target as raw bytes. */
    public static byte[] readlinkat(int dirfd, byte[] path) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(PATH_MAX);
            long n = Native.call("readlinkat", Native.display(path), (st, a) -> (long) READLINKAT.invokeExact(st,
                    dirfd, Native.cstr(a, path), buf, (long) PATH_MAX));
            return buf.asSlice(0, n).toArray(Native.C_CHAR);
        }
    }

    public static void unlinkat(int dirfd, String path, int flags) throws SyscallException {
        Native.call("unlinkat", path, (st, a) -> (int) UNLINKAT.invokeExact(st, dirfd, a.allocateFrom(path), flags));
    }

    /** copy_file_range(2) from the current offsets; returns bytes copied, 0 at end of input. */
    public static long copyFileRange(int fdIn, int fdOut, long len, String what) throws SyscallException {
        return Native.call("copy_file_range", what, (st, a) -> (long) COPY_FILE_RANGE.invokeExact(st, fdIn,
                MemorySegment.NULL, fdOut, MemorySegment.NULL, len, 0));
    }

    public static final int SEEK_SET = 0;

    public static long lseek(int fd, long offset, int whence, String what) throws SyscallException {
        return Native.call("lseek", what, (st, a) -> (long) LSEEK.invokeExact(st, fd, offset, whence));
    }

    public static boolean isatty(int fd) {
        try {
            return (int) ISATTY.invokeExact(fd) == 1;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    public static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    /**
     * syscall(2) with up to six arguments passed as full 64-bit registers (pointers as their
     * address), so no argument is left with undefined upper bits.
     */
    public static long syscall(String name, String target, long number, long... args) throws SyscallException {
        return Native.call(name, target, (st, a) -> switch (args.length) {
                case 0 -> (long) SYSCALL[0].invokeExact(st, number);
                case 1 -> (long) SYSCALL[1].invokeExact(st, number, args[0]);
                case 2 -> (long) SYSCALL[2].invokeExact(st, number, args[0], args[1]);
                case 3 -> (long) SYSCALL[3].invokeExact(st, number, args[0], args[1], args[2]);
                case 4 -> (long) SYSCALL[4].invokeExact(st, number, args[0], args[1], args[2], args[3]);
                case 5 -> (long) SYSCALL[5].invokeExact(st, number, args[0], args[1], args[2], args[3], args[4]);
                case 6 -> (long) SYSCALL[6].invokeExact(st, number, args[0], args[1], args[2], args[3], args[4], args[5]);
                default -> throw new IllegalArgumentException("syscall takes at most 6 arguments");
        });
    }

    static long addr(MemorySegment s) {
        return s == null ? 0L : s.address();
    }
}
