package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * sched.h, signal.h and sys/wait.h: namespaces, and a parked child process that holds a fresh
 * user namespace open while its uid/gid maps are written (the JVM cannot fork safely, but a
 * clone(2) whose child only calls pause(2) touches no JVM state).
 */
public final class sched_h {
    private sched_h() {}

    public static final int CLONE_NEWNS = 0x00020000;
    public static final int CLONE_NEWUSER = 0x10000000;
    public static final int CLONE_NEWPID = 0x20000000;
    public static final int CLONE_NEWNET = 0x40000000;
    public static final int SIGKILL = 9;
    public static final int SIGCHLD = 17;

    private static final long CHILD_STACK = 64 * 1024;

    private static final class unshare {
        static final MethodHandle HANDLE = Native.downcall("unshare", FunctionDescriptor.of(C_INT, C_INT));
    }

    private static final class setns {
        static final MethodHandle HANDLE = Native.downcall("setns", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    }

    private static final class clone {
        static final MethodHandle HANDLE = Native.variadic("clone",
                FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_INT, C_POINTER), 3);
    }

    private static final class kill {
        static final MethodHandle HANDLE = Native.downcall("kill", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    }

    private static final class waitpid {
        static final MethodHandle HANDLE = Native.downcall("waitpid",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    }

    public static void unshare(int flags) throws SyscallException {
        Native.call("unshare", "flags 0x" + Integer.toHexString(flags), (st, a) -> (int) unshare.HANDLE.invokeExact(st, flags));
    }

    public static void setns(int fd, int nstype, String what) throws SyscallException {
        Native.call("setns", what, (st, a) -> (int) setns.HANDLE.invokeExact(st, fd, nstype));
    }

    /**
     * Starts a child in new namespaces (flags, e.g. CLONE_NEWUSER) that sleeps in pause(2) until
     * killed; returns its pid. The caller must {@link #killAndReap} it.
     */
    public static int cloneParked(int flags) throws SyscallException {
        MemorySegment pause = Native.LIBC.find("pause").orElseThrow();
        // Without CLONE_VM the child gets its own copy of the address space at clone time, so the
        // parent may free its copy of the stack as soon as clone returns.
        return (int) Native.call("clone", "flags 0x" + Integer.toHexString(flags), (st, a) -> {
            MemorySegment top = a.allocate(CHILD_STACK, 16).asSlice(CHILD_STACK);
            return (int) clone.HANDLE.invokeExact(st, pause, top, flags | SIGCHLD, MemorySegment.NULL);
        });
    }

    public static void killAndReap(int pid) throws SyscallException {
        Native.call("kill", "pid " + pid, (st, a) -> (int) kill.HANDLE.invokeExact(st, pid, SIGKILL));
        Native.call("waitpid", "pid " + pid, (st, a) -> (int) waitpid.HANDLE.invokeExact(st, pid, a.allocate(C_INT), 0));
    }
}
