package dev.composefs.core.util;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * A single self-overwriting status line for long runs. It is only shown on a terminal (the
 * caller decides, typically isatty(2)); elsewhere every call is a no-op, so logs stay clean.
 */
public final class Progress {
    private static final long INTERVAL_NANOS = 200_000_000L;

    private final PrintStream out;
    private final boolean enabled;
    private final LongSupplier clock;
    private long last;
    private int shown;

    public Progress(PrintStream out, boolean enabled) {
        this(out, enabled, System::nanoTime);
    }

    Progress(PrintStream out, boolean enabled, LongSupplier clock) {
        this.out = out;
        this.enabled = enabled;
        this.clock = clock;
        this.last = clock.getAsLong() - INTERVAL_NANOS;
    }

    public static Progress none() {
        return new Progress(null, false);
    }

    public boolean enabled() {
        return enabled;
    }

    /** Shows the line unless one was shown less than 200 ms ago. Safe from any thread. */
    public synchronized void update(String line) {
        if (!enabled) {
            return;
        }
        long now = clock.getAsLong();
        if (now - last < INTERVAL_NANOS) {
            return;
        }
        last = now;
        draw(line);
    }

    /** Clears the line (before regular output or at the end). */
    public synchronized void clear() {
        if (enabled && shown > 0) {
            out.print("\r" + " ".repeat(shown) + "\r");
            out.flush();
            shown = 0;
        }
    }

    private void draw(String line) {
        String pad = line.length() < shown ? " ".repeat(shown - line.length()) : "";
        out.print("\r" + line + pad);
        out.flush();
        shown = line.length();
    }

    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %s", v, units[u]);
    }
}
