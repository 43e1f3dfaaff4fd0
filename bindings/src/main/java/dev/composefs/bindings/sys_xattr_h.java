package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;
import static dev.composefs.bindings.unistd_h.addr;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/** sys/xattr.h: extended attributes; the l* calls act on a path itself, never following a final symlink. */
public final class sys_xattr_h {
    private sys_xattr_h() {}

    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
    /** Largest value the VFS accepts. */
    public static final int XATTR_SIZE_MAX = 65536;
    public static final int XATTR_LIST_MAX = 65536;

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class lgetxattr {
        static final MethodHandle HANDLE = Native.downcall("lgetxattr",
                FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class llistxattr {
        static final MethodHandle HANDLE = Native.downcall("llistxattr",
                FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class getxattr {
        static final MethodHandle HANDLE = Native.downcall("getxattr",
                FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class listxattr {
        static final MethodHandle HANDLE = Native.downcall("listxattr",
                FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class flistxattr {
        static final MethodHandle HANDLE = Native.downcall("flistxattr",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    }

    private static final class fgetxattr {
        static final MethodHandle HANDLE = Native.downcall("fgetxattr",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_POINTER, C_LONG));
    }

    private static final class lsetxattr {
        static final MethodHandle HANDLE = Native.downcall("lsetxattr",
                FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_LONG, C_INT));
    }

    private static final class lremovexattr {
        static final MethodHandle HANDLE = Native.downcall("lremovexattr",
                FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
    }

    /** Most lists and values are small: try this first, ask for the size only on ERANGE. */
    private static final int FIRST_TRY = 1024;

    /** The names of path's xattrs (not following a final symlink), in the order the filesystem lists them. */
    public static List<String> llistxattr(String path) throws SyscallException {
        List<String> names = new ArrayList<>();
        for (byte[] n : listOfPath(null, () -> llistxattr.HANDLE, Classic.llistxattr, "llistxattr", path)) {
            names.add(new String(n, StandardCharsets.UTF_8));
        }
        return names;
    }

    /**
     * listxattr(2), which follows symlinks: with {@code /proc/self/fd/N} of an O_PATH|O_NOFOLLOW fd it
     * reaches the inode the fd holds, whatever its type. Names come back as raw bytes.
     */
    public static List<byte[]> listxattr(String path) throws SyscallException {
        return listxattr(null, path);
    }

    /** {@link #listxattr(String)} in the calling thread's scratch (or null). */
    public static List<byte[]> listxattr(Scratch scratch, String path) throws SyscallException {
        return listOfPath(scratch, () -> listxattr.HANDLE, Classic.listxattr, "listxattr", path);
    }

    public static byte[] lgetxattr(String path, String name) throws SyscallException {
        return valueOfPath(null, () -> lgetxattr.HANDLE, Classic.lgetxattr, "lgetxattr", path,
                name.getBytes(StandardCharsets.UTF_8));
    }

    /** getxattr(2) (following symlinks, see {@link #listxattr}) with the name as raw bytes. */
    public static byte[] getxattr(String path, byte[] name) throws SyscallException {
        return getxattr(null, path, name);
    }

    /** {@link #getxattr(String, byte[])} in the calling thread's scratch (or null). */
    public static byte[] getxattr(Scratch scratch, String path, byte[] name) throws SyscallException {
        return valueOfPath(scratch, () -> getxattr.HANDLE, Classic.getxattr, "getxattr", path, name);
    }

    /** flistxattr(2) on an open (not O_PATH) fd: no path to resolve. what names it in errors. */
    public static List<byte[]> flistxattr(int fd, String what) throws SyscallException {
        return flistxattr(null, fd, what);
    }

    /** {@link #flistxattr(int, String)} in the calling thread's scratch (or null). */
    public static List<byte[]> flistxattr(Scratch scratch, int fd, String what) throws SyscallException {
        return split(sized(scratch, "flistxattr", what, (st, a, buf, size) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.flistxattr.number, fd, addr(buf), size, 0, 0, 0)
                : (long) flistxattr.HANDLE.invokeExact(st, fd, buf, size)));
    }

    /** fgetxattr(2) with the name as raw bytes. */
    public static byte[] fgetxattr(int fd, byte[] name, String what) throws SyscallException {
        return fgetxattr(null, fd, name, what);
    }

    /** {@link #fgetxattr(int, byte[], String)} in the calling thread's scratch (or null). */
    public static byte[] fgetxattr(Scratch scratch, int fd, byte[] name, String what) throws SyscallException {
        return sized(scratch, "fgetxattr", what + " " + Native.display(name), (st, a, buf, size) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.fgetxattr.number, fd, addr(Native.cstr(a, name)), addr(buf), size, 0, 0)
                : (long) fgetxattr.HANDLE.invokeExact(st, fd, Native.cstr(a, name), buf, size));
    }

    /**
     * The list of a path's xattr names through the l/listxattr call c (its libc wrapper h). The
     * wrapper comes through a Supplier so that its holder class, which links it, is initialised
     * only where it is called: given as a value it was linked on every scan, a downcall stub and
     * its method handles spun for nothing (11 classes on the JDK's tree, bench/ingest).
     */
    private static List<byte[]> listOfPath(Scratch scratch, Supplier<MethodHandle> h, Classic c, String call, String path)
            throws SyscallException {
        return split(sized(scratch, call, path, (st, a, buf, size) -> Classic.RAW
                ? unistd_h.syscall6(st, c.number, addr(Native.cstr(a, path)), addr(buf), size, 0, 0, 0)
                : (long) h.get().invokeExact(st, Native.cstr(a, path), buf, size)));
    }

    /** The value of a path's xattr name through the l/getxattr call c (its libc wrapper h, see listOfPath). */
    private static byte[] valueOfPath(Scratch scratch, Supplier<MethodHandle> h, Classic c, String call, String path,
            byte[] name) throws SyscallException {
        return sized(scratch, call, path + " " + Native.display(name), (st, a, buf, size) -> Classic.RAW
                ? unistd_h.syscall6(st, c.number, addr(Native.cstr(a, path)), addr(Native.cstr(a, name)), addr(buf),
                        size, 0, 0)
                : (long) h.get().invokeExact(st, Native.cstr(a, path), Native.cstr(a, name), buf, size));
    }

    /** NUL-terminated names. */
    private static List<byte[]> split(byte[] raw) {
        List<byte[]> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                names.add(Arrays.copyOfRange(raw, start, i));
                start = i + 1;
            }
        }
        return names;
    }

    @FunctionalInterface
    private interface SizedCall {
        long invoke(MemorySegment errnoState, SegmentAllocator arena, MemorySegment buf, long size) throws Throwable;
    }

    /** The list/get protocol: a small buffer first; on ERANGE ask for the size (0-length call) and retry. */
    private static byte[] sized(Scratch scratch, String call, String target, SizedCall c) throws SyscallException {
        long size = FIRST_TRY;
        for (int attempt = 0; ; attempt++) {
            long want = size;
            boolean last = attempt > 3;
            byte[] got = Scratch.within(scratch, s -> {
                MemorySegment buf = s.allocate(want);
                try {
                    long n = Native.call(s, call, target, (st, a) -> c.invoke(st, a, buf, want));
                    return Native.toBytes(buf, n);
                } catch (SyscallException e) {
                    if (e.errno() != Errno.ERANGE || last) {
                        throw e;
                    }
                    return null; // grew since it was measured: measure again
                }
            });
            if (got != null) {
                return got;
            }
            size = Math.max(1, Native.call(scratch, call, target, (st, a) -> c.invoke(st, a, MemorySegment.NULL, 0L)));
        }
    }

    public static void lsetxattr(String path, String name, byte[] value, int flags) throws SyscallException {
        Native.call("lsetxattr", path + " " + name, (st, a) -> {
            MemorySegment v = a.allocate(Math.max(1, value.length));
            MemorySegment.copy(value, 0, v, ValueLayout.JAVA_BYTE, 0, value.length);
            return Classic.RAW
                    ? unistd_h.syscall6(st, Classic.lsetxattr.number, addr(Native.cstr(a, path)), addr(Native.cstr(a, name)),
                            v.address(), value.length, flags, 0)
                    : (int) lsetxattr.HANDLE.invokeExact(st, Native.cstr(a, path), Native.cstr(a, name), v,
                            (long) value.length, flags);
        });
    }

    public static void lremovexattr(String path, String name) throws SyscallException {
        Native.call("lremovexattr", path + " " + name,
                (st, a) -> Classic.RAW
                        ? unistd_h.syscall6(st, Classic.lremovexattr.number, addr(Native.cstr(a, path)),
                                addr(Native.cstr(a, name)), 0, 0, 0, 0)
                        : (int) lremovexattr.HANDLE.invokeExact(st, Native.cstr(a, path), Native.cstr(a, name)));
    }
}
