package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** sched.h: namespace flags, unshare(2) and setns(2). */
public final class sched_h {
    private sched_h() {}

    public static final int CLONE_NEWNS = 0x00020000;
    public static final int CLONE_NEWUSER = 0x10000000;
    public static final int CLONE_NEWPID = 0x20000000;
    public static final int CLONE_NEWNET = 0x40000000;

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class unshare {
        static final MethodHandle HANDLE = Native.downcall("unshare", FunctionDescriptor.of(C_INT, C_INT));
    }

    private static final class setns {
        static final MethodHandle HANDLE = Native.downcall("setns", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    }

    public static void unshare(int flags) throws SyscallException {
        Native.call("unshare", "flags 0x" + Integer.toHexString(flags), (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.unshare.number, flags, 0, 0, 0, 0, 0)
                : (int) unshare.HANDLE.invokeExact(st, flags));
    }

    public static void setns(int fd, int nstype, String what) throws SyscallException {
        Native.call("setns", what, (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.setns.number, fd, nstype, 0, 0, 0, 0)
                : (int) setns.HANDLE.invokeExact(st, fd, nstype));
    }
}
