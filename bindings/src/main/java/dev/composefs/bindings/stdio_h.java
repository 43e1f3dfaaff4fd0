package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** stdio.h (with _GNU_SOURCE): renameat2(2), whose RENAME_NOREPLACE makes publishing a file race-free. */
public final class stdio_h {
    private stdio_h() {}

    public static final int RENAME_NOREPLACE = 1;
    public static final int RENAME_EXCHANGE = 2;

    // The libc wrapper, used only where Classic.RAW is false (see there).
    private static final class renameat2 {
        static final MethodHandle HANDLE = Native.downcall("renameat2",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT, C_POINTER, C_INT));
    }

    public static void renameat2(int olddirfd, String oldpath, int newdirfd, String newpath, int flags)
            throws SyscallException {
        Native.call("renameat2", oldpath + " -> " + newpath, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.renameat2.number, olddirfd, unistd_h.addr(Native.cstr(a, oldpath)), newdirfd,
                        unistd_h.addr(Native.cstr(a, newpath)), flags, 0)
                : (int) renameat2.HANDLE.invokeExact(st, olddirfd, Native.cstr(a, oldpath), newdirfd, Native.cstr(a, newpath),
                        flags));
    }
}
