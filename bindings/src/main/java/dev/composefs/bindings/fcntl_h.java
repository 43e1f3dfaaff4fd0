package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;
import static dev.composefs.bindings.unistd_h.addr;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

/** fcntl.h and linux/openat2.h: openat, openat2 with struct open_how, file seals. */
public final class fcntl_h {
    private fcntl_h() {}

    public static final int AT_FDCWD = -100;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;
    public static final int AT_REMOVEDIR = 0x200;
    public static final int AT_SYMLINK_FOLLOW = 0x400;
    public static final int AT_EMPTY_PATH = 0x1000;
    public static final int AT_RECURSIVE = 0x8000;

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;
    /** An unnamed file in the given directory, linked in with linkat(2) once complete (or never). */
    public static final int O_TMPFILE = 020200000;

    public static final long RESOLVE_NO_XDEV = 0x01;
    public static final long RESOLVE_NO_MAGICLINKS = 0x02;
    public static final long RESOLVE_NO_SYMLINKS = 0x04;
    public static final long RESOLVE_BENEATH = 0x08;
    public static final long RESOLVE_IN_ROOT = 0x10;
    public static final long RESOLVE_CACHED = 0x20;

    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 0x0001;
    public static final int F_SEAL_SHRINK = 0x0002;
    public static final int F_SEAL_GROW = 0x0004;
    public static final int F_SEAL_WRITE = 0x0008;

    /** struct open_how (linux/openat2.h). */
    public static final StructLayout open_how = MemoryLayout.structLayout(
            C_LONG.withName("flags"),
            C_LONG.withName("mode"),
            C_LONG.withName("resolve")).withName("open_how");

    private static final long HOW_FLAGS = Native.offsetOf(open_how, "flags");

    static {
        if (Native.offsetOf(open_how, "mode") != HOW_FLAGS + 8 || Native.offsetOf(open_how, "resolve") != HOW_FLAGS + 16) {
            throw new AssertionError("struct open_how: flags, mode and resolve are consecutive u64s");
        }
    }

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class openat {
        static final MethodHandle HANDLE = Native.variadic("openat", FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT, C_INT), 3);
    }

    private static final class fcntl {
        static final MethodHandle HANDLE = Native.variadic("fcntl", FunctionDescriptor.of(C_INT, C_INT, C_INT, C_INT), 2);
    }

    public static int openat(int dirfd, String path, int flags, int mode) throws SyscallException {
        return openat(dirfd, path.getBytes(StandardCharsets.UTF_8), flags, mode);
    }

    /** openat(2) with the path as raw bytes, for names that are not valid UTF-8. */
    public static int openat(int dirfd, byte[] path, int flags, int mode) throws SyscallException {
        return openat(null, dirfd, path, flags, mode);
    }

    /** {@link #openat(int, byte[], int, int)} in the calling thread's scratch (or null). */
    public static int openat(Scratch scratch, int dirfd, byte[] path, int flags, int mode) throws SyscallException {
        return (int) Native.call(scratch, "openat", Native.display(path), (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.openat.number, dirfd, addr(Native.cstr(a, path)), flags, mode, 0, 0)
                : (int) openat.HANDLE.invokeExact(st, dirfd, Native.cstr(a, path), flags, mode));
    }

    public static int openat2(int dirfd, String path, long flags, long mode, long resolve) throws SyscallException {
        return openat2(null, dirfd, path.getBytes(StandardCharsets.UTF_8), flags, mode, resolve);
    }

    public static int openat2(int dirfd, byte[] path, long flags, long mode, long resolve) throws SyscallException {
        return openat2(null, dirfd, path, flags, mode, resolve);
    }

    /** {@link #openat2(int, byte[], long, long, long)} in the calling thread's scratch (or null). */
    public static int openat2(Scratch scratch, int dirfd, byte[] path, long flags, long mode, long resolve)
            throws SyscallException {
        return (int) Native.call(scratch, "openat2", Native.display(path), (st, a) -> {
            MemorySegment how = a.allocate(open_how);
            // one bulk copy of the three members (consecutive u64s, the probe checks where):
            // MemorySegment.set goes through var handles, which make C1's compilation of this
            // method, called once per file of a scan, large
            MemorySegment.copy(new long[] {flags, mode, resolve}, 0, how, C_LONG, HOW_FLAGS, 3);
            return unistd_h.syscall6(st, unistd_h.SYS_openat2, dirfd, addr(Native.cstr(a, path)), addr(how),
                    open_how.byteSize(), 0, 0);
        });
    }

    public static int fcntl(int fd, int cmd, int arg) throws SyscallException {
        return (int) Native.call("fcntl", "fd " + fd, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.fcntl.number, fd, cmd, arg, 0, 0, 0)
                : (int) fcntl.HANDLE.invokeExact(st, fd, cmd, arg));
    }
}
