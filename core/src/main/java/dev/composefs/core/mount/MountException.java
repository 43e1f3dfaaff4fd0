package dev.composefs.core.mount;

import java.io.IOException;

/** A mount that could not be done; usage says whether the request itself was wrong (mount(8) exit 1) or the mount failed (32). */
public final class MountException extends IOException {
    private static final long serialVersionUID = 1L;

    private final boolean usage;

    private MountException(String message, boolean usage, Throwable cause) {
        super(message, cause);
        this.usage = usage;
    }

    public static MountException usage(String message) {
        return new MountException(message, true, null);
    }

    public static MountException failed(String message, Throwable cause) {
        return new MountException(message, false, cause);
    }

    public boolean isUsage() {
        return usage;
    }
}
