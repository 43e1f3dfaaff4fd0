package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** sys/mman.h: anonymous memory files, which can be sealed against later writes. */
public final class sys_mman_h {
    private sys_mman_h() {}

    public static final int MFD_CLOEXEC = 0x0001;
    public static final int MFD_ALLOW_SEALING = 0x0002;

    // The libc wrapper, used only where Classic.RAW is false (see there).
    private static final class memfd_create {
        static final MethodHandle HANDLE = Native.downcall("memfd_create",
                FunctionDescriptor.of(C_INT, C_POINTER, C_INT));
    }

    public static int memfdCreate(String name, int flags) throws SyscallException {
        return (int) Native.call("memfd_create", name,
                (st, a) -> Classic.RAW
                        ? unistd_h.syscall6(st, Classic.memfd_create.number, unistd_h.addr(Native.cstr(a, name)), flags, 0, 0, 0, 0)
                        : (int) memfd_create.HANDLE.invokeExact(st, Native.cstr(a, name), flags));
    }
}
