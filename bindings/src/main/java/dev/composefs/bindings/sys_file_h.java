package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** sys/file.h: flock(2) advisory locks, released by the kernel when the fd closes (even on a crash). */
public final class sys_file_h {
    private sys_file_h() {}

    public static final int LOCK_SH = 1;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int LOCK_UN = 8;

    // The libc wrapper, used only where Classic.RAW is false (see there).
    private static final class flock {
        static final MethodHandle HANDLE = Native.downcall("flock", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    }

    public static void flock(int fd, int operation, String what) throws SyscallException {
        Native.call("flock", what, (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.flock.number, fd, operation, 0, 0, 0, 0)
                : (int) flock.HANDLE.invokeExact(st, fd, operation));
    }
}
