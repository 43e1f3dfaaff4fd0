package dev.composefs.core.util;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old file or the complete new one: data goes to a
 * temporary name in the same directory, is fsynced, renamed over the target, and the directory
 * is fsynced. A failure removes the temporary file, so nothing half-written is left behind.
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
            try (FileChannel ch = FileChannel.open(Path.of(target), StandardOpenOption.WRITE);
                    OutputStream out = Channels.newOutputStream(ch)) {
                content.writeTo(out);
            }
            return;
        }
        write(Path.of(target), content);
    }

    public static void write(Path target, Content content) throws IOException {
        if (target.toString().isEmpty()) {
            throw new IOException("an empty path names no file"); // else it would resolve to the working directory
        }
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = dir.resolve("." + abs.getFileName() + ".tmp" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        FileChannel ch;
        try {
            ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileSystemException e) {
            throw new IOException(dir + ": " + reason(e), e); // the directory is the problem, not the temporary name
        }
        boolean done = false;
        try {
            try (ch) {
                content.writeTo(Channels.newOutputStream(ch)); // not closed here: the channel is, after the fsync
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            } catch (FileSystemException e) {
                throw new IOException(reason(e), e); // e.g. the target is a directory
            }
            done = true;
            syncDirectory(dir);
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
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

    /** {@link #reason(FileSystemException)} for a file operation's error, its message for any other I/O error. */
    public static String reason(IOException e) {
        return e instanceof FileSystemException f ? reason(f) : e.getMessage();
    }

    public static void write(String target, byte[] data, OutputStream stdout) throws IOException {
        write(target, of(data), stdout);
    }

    public static void write(Path target, byte[] data) throws IOException {
        write(target, of(data));
    }

    /** Content that is these bytes. */
    public static Content of(byte[] data) {
        return out -> writeChunked(out, data);
    }

    // Big arrays go out in pieces: the JDK copies a heap buffer through a native one of the
    // same size, so one large write would allocate (and touch) as much again.
    private static final int CHUNK = 1 << 18;

    private static void writeChunked(OutputStream out, byte[] data) throws IOException {
        for (int off = 0; off < data.length; off += CHUNK) {
            out.write(data, off, Math.min(CHUNK, data.length - off));
        }
    }

    /** fsync of the directory makes the rename itself durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some filesystems refuse fsync on a directory; the data itself is already synced
        }
    }
}
