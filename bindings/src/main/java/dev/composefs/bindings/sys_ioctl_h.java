package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** sys/ioctl.h: ioctl(2) in its two argument shapes (a pointer to a struct, or an integer). */
public final class sys_ioctl_h {
    private sys_ioctl_h() {}

    /** Gets a terminal's settings; fails with ENOTTY on anything else. */
    public static final int TCGETS = 0x5401;

    // The libc wrapper, used only where Classic.RAW is false (see there).
    private static final class ioctl_ptr {
        static final MethodHandle HANDLE = Native.variadic("ioctl",
                FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_POINTER), 2);
    }

    private static final class ioctl_long {
        static final MethodHandle HANDLE = Native.variadic("ioctl",
                FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_LONG), 2);
    }

    /** ioctl(fd, request, arg) where arg points to a struct; name is the request's macro name. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name, String target)
            throws SyscallException {
        return (int) Native.call("ioctl " + name, target,
                (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.ioctl.number, fd, request, arg.address(), 0, 0, 0)
                        : (int) ioctl_ptr.HANDLE.invokeExact(st, fd, request, arg));
    }

    /** ioctl(fd, request, arg) where arg is a plain integer (an fd or an index). */
    public static int ioctl(int fd, long request, long arg, String name, String target) throws SyscallException {
        return (int) Native.call("ioctl " + name, target,
                (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.ioctl.number, fd, request, arg, 0, 0, 0)
                        : (int) ioctl_long.HANDLE.invokeExact(st, fd, request, arg));
    }
}
