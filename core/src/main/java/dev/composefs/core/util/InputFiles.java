package dev.composefs.core.util;

import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_NONBLOCK;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.Native;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Opening and reading the files a user names (images, descriptors, namespaces) so that no input
 * hangs the process or exhausts its memory: open(2) never blocks (a FIFO without a writer would
 * block in open forever), the type is checked on the open fd (a path swapped after a check cannot
 * slip through), and whole-file reads are bounded.
 */
public final class InputFiles {
    private InputFiles() {}

    /**
     * The largest image this project reads or copies whole (composefs-info, store gc/fsck,
     * digest=, verity checks, the driver's descriptor). Images are metadata, a few hundred
     * bytes per entry: this bound is far above any real tree's.
     */
    public static final long MAX_IMAGE_SIZE = 1L << 30;

    /** What a file may be. */
    public enum Kind {
        /** Regular files only (what gets mounted). */
        REGULAR,
        /** Regular files or pipes (/dev/stdin in a pipeline), read once from the start. */
        REGULAR_OR_PIPE
    }

    /**
     * Opens path read-only without blocking, checks its type on the fd, and returns the fd in
     * blocking mode; the caller closes it. Errors name the path.
     */
    public static int open(Path path, Kind kind, String what) throws IOException {
        int fd;
        try {
            fd = fcntl_h.openat(fcntl_h.AT_FDCWD, path.toString(), O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
        } catch (SyscallException e) {
            throw new IOException(path + ": cannot open " + what + ": " + e.errnoName() + " ("
                    + Errno.description(e.errno()) + ")", e);
        }
        try {
            int type = sys_stat_h.statx(null, fd, sys_stat_h.STATX_TYPE).type();
            if (type != sys_stat_h.S_IFREG && !(kind == Kind.REGULAR_OR_PIPE && type == sys_stat_h.S_IFIFO)) {
                throw new IOException(path + ": " + what + " is not a regular file (it is " + typeName(type) + ")");
            }
            fcntl_h.fcntl(fd, fcntl_h.F_SETFL, fcntl_h.fcntl(fd, fcntl_h.F_GETFL, 0) & ~O_NONBLOCK);
            return fd;
        } catch (IOException e) {
            unistd_h.closeQuietly(fd);
            throw e;
        }
    }

    /** The whole of a regular file or pipe, refused above max bytes (before reading, where the size is known). */
    public static byte[] read(Path path, long max, String what) throws IOException {
        return read(path, Kind.REGULAR_OR_PIPE, max, what);
    }

    /** The whole of a file of kind, refused above max bytes. */
    public static byte[] read(Path path, Kind kind, long max, String what) throws IOException {
        int fd = open(path, kind, what);
        try {
            return read(fd, path, max, what);
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    /** Everything fd yields from its current position, refused above max bytes. */
    public static byte[] read(int fd, Path path, long max, String what) throws IOException {
        long size = sys_stat_h.statx(null, fd, sys_stat_h.STATX_SIZE).size();
        if (size > max) {
            throw tooLarge(path, Long.toString(size), max, what);
        }
        byte[] data = new byte[(int) Math.max(size, 1 << 16)];
        int n = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1 << 16);
            for (long k; (k = unistd_h.read(fd, buf, path.toString())) > 0; ) {
                if (n + k > max) {
                    throw tooLarge(path, "more than " + max, max, what);
                }
                if (n + k > data.length) {
                    data = Arrays.copyOf(data, (int) Math.min(max, Math.max(n + k, 2L * data.length)));
                }
                Native.copy(buf, 0, data, n, (int) k);
                n += (int) k;
            }
        }
        return n == data.length ? data : Arrays.copyOf(data, n);
    }

    private static IOException tooLarge(Path path, String size, long max, String what) {
        String why = max == MAX_IMAGE_SIZE ? "composefs images are metadata, and at most " : "at most ";
        return new IOException(path + ": " + what + " too large (" + size + " bytes; " + why + max + " bytes are read)");
    }

    /** The name of a file type for messages. */
    public static String typeName(int type) {
        return switch (type) {
            case sys_stat_h.S_IFREG -> "a regular file";
            case sys_stat_h.S_IFDIR -> "a directory";
            case sys_stat_h.S_IFIFO -> "a FIFO";
            case sys_stat_h.S_IFCHR -> "a character device";
            case sys_stat_h.S_IFBLK -> "a block device";
            case sys_stat_h.S_IFSOCK -> "a socket";
            case sys_stat_h.S_IFLNK -> "a symlink";
            default -> "of unknown type";
        };
    }
}
