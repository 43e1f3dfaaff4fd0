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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
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

    private static final int RECLEN = (int) Native.offsetOf(dirent64, "d_reclen");
    private static final int TYPE = (int) Native.offsetOf(dirent64, "d_type");
    private static final int NAME = (int) Native.offsetOf(dirent64, "d_name");
    private static final int INO = (int) Native.offsetOf(dirent64, "d_ino");
    private static final int BUFFER_SIZE = 64 * 1024; // one getdents64 batch

    // The libc wrapper, used only where Classic.RAW is false (see there).
    private static final class getdents64 {
        static final MethodHandle HANDLE = Native.downcall("getdents64",
                FunctionDescriptor.of(C_LONG, C_INT, C_POINTER, C_LONG));
    }

    /** One directory entry; {@code type} is a DT_* value (DT_UNKNOWN where the filesystem does not say). */
    public record Entry(byte[] name, int type, long ino) {}

    /** All entries of the directory fd except "." and "..", in the filesystem's order. */
    public static List<Entry> readAll(int dirfd, String what) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            return readAll(null, dirfd, buffer(arena), what);
        }
    }

    /** A buffer for {@link #readAll(Scratch, int, MemorySegment, String)}, in arena. */
    public static MemorySegment buffer(Arena arena) {
        return arena.allocate(BUFFER_SIZE, 8);
    }

    /**
     * Like {@link #readAll(int, String)}, through the caller's buffer (from {@link #buffer}) and
     * in its scratch (or null): a walk reading thousands of directories on one thread reuses one
     * buffer, instead of allocating and zeroing one per directory.
     */
    public static List<Entry> readAll(Scratch scratch, int dirfd, MemorySegment buf, String what)
            throws SyscallException {
        if (buf.byteSize() < BUFFER_SIZE) {
            throw new IllegalArgumentException("getdents64 buffer of " + buf.byteSize() + " bytes, " + BUFFER_SIZE + " needed");
        }
        List<Entry> entries = new ArrayList<>();
        // Each batch is copied out once and parsed from the array: reading the records through
        // the segment costs a bounds and liveness check per byte of every name. The array is
        // as large as the batch: most directories are far smaller than the buffer, and an array
        // of the buffer's size per directory would be most of what a scan allocates.
        byte[] raw = null;
        ByteBuffer view = null;
        while (true) {
            long n = Native.call(scratch, "getdents64", what,
                    (st, a) -> Classic.RAW ? unistd_h.syscall6(st, Classic.getdents64.number, dirfd, buf.address(), BUFFER_SIZE, 0, 0, 0)
                            : (long) getdents64.HANDLE.invokeExact(st, dirfd, buf, (long) BUFFER_SIZE));
            if (n == 0) {
                return entries;
            }
            if (raw == null || raw.length < n) {
                raw = new byte[(int) n];
                view = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
            }
            MemorySegment.copy(buf, C_CHAR, 0, raw, 0, (int) n);
            for (int off = 0; off < n; ) {
                int reclen = Short.toUnsignedInt(view.getShort(off + RECLEN));
                int name = off + NAME;
                int end = name;
                while (raw[end] != 0) {
                    end++;
                }
                int len = end - name;
                boolean dots = len <= 2 && raw[name] == '.' && (len == 1 || raw[name + 1] == '.');
                if (!dots) {
                    entries.add(new Entry(Arrays.copyOfRange(raw, name, end), Byte.toUnsignedInt(raw[off + TYPE]),
                            view.getLong(off + INO)));
                }
                off += reclen;
            }
        }
    }
}
