package dev.composefs.core.util;

import static dev.composefs.bindings.fcntl_h.AT_FDCWD;
import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.stdio_h;
import dev.composefs.bindings.unistd_h;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old file or the complete new one: data goes to a
 * temporary name in the same directory, is fsynced, renamed over the target, and the directory
 * is fsynced. A failure removes the temporary file, so nothing half-written is left behind.
 * The calls go through the bindings, with the errno in every error.
 */
public final class AtomicFile {
    private AtomicFile() {}

    /** True for targets that cannot be renamed onto: stdout ("-"), /proc/self/fd/N, devices. */
    public static boolean isStream(String target) {
        return target.equals("-") || target.startsWith("/proc/self/fd/") || target.startsWith("/dev/");
    }

    /** What goes into the file, written to the stream it is given. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Writes target: a file (atomically, see above), or "-" (stdout), /proc/self/fd/N or a device as it is. */
    public static void write(String target, Content content, OutputStream stdout) throws IOException {
        if (target.equals("-")) {
            content.writeTo(stdout);
            stdout.flush();
            return;
        }
        if (isStream(target)) {
            int fd;
            try {
                fd = fcntl_h.openat(AT_FDCWD, target, fcntl_h.O_WRONLY | O_CLOEXEC, 0);
            } catch (SyscallException e) {
                throw new IOException(e.reason(), e);
            }
            try (Arena arena = Arena.ofConfined()) {
                OutputStream out = new FdOutputStream(fd, target, arena);
                content.writeTo(out);
                out.flush();
            } finally {
                unistd_h.closeQuietly(fd);
            }
            return;
        }
        write(Path.of(target), content);
    }

    public static void write(Path target, Content content) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        String tmp = dir.resolve("." + abs.getFileName() + ".tmp" + Long.toHexString(ThreadLocalRandom.current().nextLong()))
                .toString();
        int fd;
        try {
            // O_EXCL and O_NOFOLLOW: nothing planted at the temporary name is written through
            fd = fcntl_h.openat(AT_FDCWD, tmp, fcntl_h.O_WRONLY | fcntl_h.O_CREAT | fcntl_h.O_EXCL | fcntl_h.O_NOFOLLOW
                    | O_CLOEXEC, 0666);
        } catch (SyscallException e) {
            throw new IOException(dir + ": " + e.reason(), e); // the directory is the problem, not the temporary name
        }
        boolean done = false;
        try {
            try (Arena arena = Arena.ofConfined()) {
                OutputStream out = new FdOutputStream(fd, tmp, arena);
                content.writeTo(out);
                out.flush();
            }
            unistd_h.fsync(fd, tmp);
            int closing = fd;
            fd = -1;
            unistd_h.close(closing); // where an NFS write error would surface
            stdio_h.renameat2(AT_FDCWD, tmp, AT_FDCWD, abs.toString(), 0); // e.g. EISDIR: a directory is in the way
            done = true;
            syncDirectory(dir);
        } catch (SyscallException e) {
            throw new IOException(e.reason(), e);
        } finally {
            if (fd >= 0) {
                unistd_h.closeQuietly(fd);
            }
            if (!done) {
                try {
                    unistd_h.unlinkat(AT_FDCWD, tmp, 0);
                } catch (SyscallException e) {
                    // already gone, or the directory went: nothing of ours is left to remove
                }
            }
        }
    }

    /**
     * Why a file operation failed, as errors elsewhere say it: the JDK reports ENOENT, EACCES and
     * EEXIST by exception type alone, with no reason text.
     */
    public static String reason(FileSystemException e) {
        return switch (e) {
            case NoSuchFileException x -> "ENOENT (No such file or directory)";
            case AccessDeniedException x -> "EACCES (Permission denied)";
            case FileAlreadyExistsException x -> "EEXIST (File exists)";
            default -> e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
        };
    }

    public static void write(String target, byte[] data, OutputStream stdout) throws IOException {
        write(target, of(data), stdout);
    }

    public static void write(Path target, byte[] data) throws IOException {
        write(target, of(data));
    }

    /** Content that is these bytes. */
    public static Content of(byte[] data) {
        return out -> out.write(data, 0, data.length);
    }

    /** fsync of the directory makes the rename itself durable. */
    private static void syncDirectory(Path dir) {
        int fd = -1;
        try {
            fd = fcntl_h.openat(AT_FDCWD, dir.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY | O_CLOEXEC, 0);
            unistd_h.fsync(fd, dir.toString());
        } catch (SyscallException e) {
            // some filesystems refuse fsync on a directory; the data itself is already synced
        } finally {
            if (fd >= 0) {
                unistd_h.closeQuietly(fd);
            }
        }
    }
}
