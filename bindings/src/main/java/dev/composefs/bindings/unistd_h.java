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
