package dev.composefs.core.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's effective capabilities, as the kernel reports them in /proc/self/status. */
public final class Capabilities {
    private Capabilities() {}

    private static final int CAP_SYS_ADMIN = 21;

    /** Whether mounting is possible here: CAP_SYS_ADMIN is effective. */
    public static boolean sysAdmin() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) >>> CAP_SYS_ADMIN & 1) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no /proc: assume the kernel's mounts, whose failure says why
        }
        return true;
    }
}
