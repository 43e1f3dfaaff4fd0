package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_CHAR;
import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;
import static dev.composefs.bindings.Native.C_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * dirent.h: getdents64(2) over an open directory fd. Names come back as raw bytes, because a
 * Linux file name is any byte string without '/' and NUL, valid UTF-8 or not.
 */
public final class dirent_h {
    private dirent_h() {}

    public static final int DT_UNKNOWN = 0;
    public static final int DT_FIFO = 1;
    public static final int DT_CHR = 2;
    public static final int DT_DIR = 4;
    public static final int DT_BLK = 6;
    public static final int DT_REG = 8;
    public static final int DT_LNK = 10;
    public static final int DT_SOCK = 12;

    /** struct dirent64 (glibc's name for the record getdents64 fills). */
    public static final StructLayout dirent64 = MemoryLayout.structLayout(
            C_LONG.withName("d_ino"),
            C_LONG.withName("d_off"),
            C_SHORT.withName("d_reclen"),
            C_CHAR.withName("d_type"),
            MemoryLayout.sequenceLayout(256, C_CHAR).withName("d_name"),
            MemoryLayout.paddingLayout(5)).withName("dirent64");

    private static final long RECLEN = Native.offsetOf(dirent64, "d_reclen");
    private static final long TYPE = Native.offsetOf(dirent64, "d_type");
    private static final long NAME = Native.offsetOf(dirent64, "d_name");
    private static final long INO = Native.offsetOf(dirent64, "d_ino");
    private static final int BUFFER = 64 * 1024;

    private static final class getdents64 {
        static final MethodHandle HANDLE = Native.downcall("getdents64",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    }

    /** One directory entry; {@code type} is a DT_* value (DT_UNKNOWN where the filesystem does not say). */
    public record Entry(byte[] name, int type, long ino) {}

    /** All entries of the directory fd except "." and "..", in the filesystem's order. */
    public static List<Entry> readAll(int dirfd, String what) throws SyscallException {
        List<Entry> entries = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(BUFFER, 8);
            while (true) {
                long n = Native.call("getdents64", what,
                        (st, a) -> (long) getdents64.HANDLE.invokeExact(st, dirfd, buf, (long) BUFFER));
                if (n == 0) {
                    return entries;
                }
                for (long off = 0; off < n; ) {
                    int reclen = Short.toUnsignedInt(buf.get(C_SHORT, off + RECLEN));
                    MemorySegment name = buf.asSlice(off + NAME, reclen - NAME);
                    long len = 0;
                    while (name.get(C_CHAR, len) != 0) {
                        len++;
                    }
                    byte[] bytes = name.asSlice(0, len).toArray(C_CHAR);
                    boolean dots = len <= 2 && bytes[0] == '.' && (len == 1 || bytes[1] == '.');
                    if (!dots) {
                        entries.add(new Entry(bytes, Byte.toUnsignedInt(buf.get(C_CHAR, off + TYPE)),
                                buf.get(C_LONG, off + INO)));
                    }
                    off += reclen;
                }
            }
        }
    }
}
