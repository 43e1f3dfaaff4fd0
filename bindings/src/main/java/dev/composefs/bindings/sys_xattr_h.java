package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** sys/xattr.h: extended attributes of a path itself (never following a final symlink). */
public final class sys_xattr_h {
    private sys_xattr_h() {}

    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
    /** Largest value the VFS accepts. */
    public static final int XATTR_SIZE_MAX = 65536;
    public static final int XATTR_LIST_MAX = 65536;

    private static final MethodHandle LGETXATTR = Native.downcall("lgetxattr",
            FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_POINTER, C_LONG));
    private static final MethodHandle LLISTXATTR = Native.downcall("llistxattr",
            FunctionDescriptor.of(C_LONG, C_POINTER, C_POINTER, C_LONG));
    private static final MethodHandle LSETXATTR = Native.downcall("lsetxattr",
            FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_LONG, C_INT));
    private static final MethodHandle LREMOVEXATTR = Native.downcall("lremovexattr",
            FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));

    /** The names of path's xattrs, in the order the filesystem lists them. */
    public static List<String> llistxattr(String path) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(XATTR_LIST_MAX);
            long n = Native.call("llistxattr", path,
                    (st, a) -> (long) LLISTXATTR.invokeExact(st, a.allocateFrom(path), buf, (long) XATTR_LIST_MAX));
            List<String> names = new ArrayList<>();
            byte[] raw = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    names.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            return names;
        }
    }

    public static byte[] lgetxattr(String path, String name) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(XATTR_SIZE_MAX);
            long n = Native.call("lgetxattr", path + " " + name, (st, a) -> (long) LGETXATTR.invokeExact(st,
                    a.allocateFrom(path), a.allocateFrom(name), buf, (long) XATTR_SIZE_MAX));
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    public static void lsetxattr(String path, String name, byte[] value, int flags) throws SyscallException {
        Native.call("lsetxattr", path + " " + name, (st, a) -> {
            MemorySegment v = a.allocate(Math.max(1, value.length));
            MemorySegment.copy(value, 0, v, ValueLayout.JAVA_BYTE, 0, value.length);
            return (int) LSETXATTR.invokeExact(st, a.allocateFrom(path), a.allocateFrom(name), v,
                    (long) value.length, flags);
        });
    }

    public static void lremovexattr(String path, String name) throws SyscallException {
        Native.call("lremovexattr", path + " " + name,
                (st, a) -> (int) LREMOVEXATTR.invokeExact(st, a.allocateFrom(path), a.allocateFrom(name)));
    }
}
