package dev.composefs.core.util;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
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

    public static void write(String target, byte[] data, OutputStream stdout) throws IOException {
        if (target.equals("-")) {
            for (int off = 0; off < data.length; off += CHUNK) {
                stdout.write(data, off, Math.min(CHUNK, data.length - off));
            }
            stdout.flush();
            return;
        }
        if (isStream(target)) {
            try (FileChannel ch = FileChannel.open(Path.of(target), StandardOpenOption.WRITE)) {
                writeAll(ch, data);
            }
            return;
        }
        write(Path.of(target), data);
    }

    public static void write(Path target, byte[] data) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = dir.resolve("." + abs.getFileName() + ".tmp" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeAll(ch, data);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            syncDirectory(dir);
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    // Writes go out in pieces: the JDK copies a heap buffer through a native one of the same
    // size, so one 10 MB write would allocate (and touch) 10 MB more.
    private static final int CHUNK = 1 << 18;

    private static void writeAll(FileChannel ch, byte[] data) throws IOException {
        for (int off = 0; off < data.length; off += CHUNK) {
            ByteBuffer buf = ByteBuffer.wrap(data, off, Math.min(CHUNK, data.length - off));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
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
