package dev.composefs.core.util;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where a mount point that lives only while a mount is set up is made. */
public final class Staging {
    private Staging() {}

    /** /run when it is a writable directory (a tmpfs, so nothing left there outlives a reboot), else java.io.tmpdir. */
    public static Path parent() {
        Path run = Path.of("/run");
        return Files.isDirectory(run) && Files.isWritable(run) ? run : Path.of(System.getProperty("java.io.tmpdir"));
    }
}
