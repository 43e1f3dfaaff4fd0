package dev.composefs.core.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** This process's effective capabilities, as the kernel reports them in /proc/self/status. */
public final class Capabilities {
    private Capabilities() {}

    private static final int CAP_SYS_ADMIN = 21;

    /** Whether mounting is possible here: CAP_SYS_ADMIN is effective. */
    public static boolean sysAdmin() {
        try {
            // through the bindings every mount links anyway: java.nio.file's channels would load
            // and initialise the JDK's network and NIO libraries on the mount helper's path
            String status = new String(InputFiles.read(Path.of("/proc/self/status"), 1 << 20, "process status"),
                    StandardCharsets.US_ASCII);
            int at = status.indexOf("\nCapEff:");
            if (at >= 0) {
                int end = status.indexOf('\n', at + 1);
                String hex = status.substring(at + 8, end < 0 ? status.length() : end).strip();
                return (Long.parseUnsignedLong(hex, 16) >>> CAP_SYS_ADMIN & 1) != 0;
            }
        } catch (IOException | NumberFormatException e) {
            // no /proc: assume the kernel's mounts, whose failure says why
        }
        return true;
    }
}
