package dev.composefs.core.dumpfile;

import java.io.IOException;

/** A composefs-dump(5) input that cannot be parsed; the message names the line and the problem. */
public final class DumpFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final long line;

    public DumpFormatException(long line, String message) {
        super(line > 0 ? "line " + line + ": " + message : message);
        this.line = line;
    }

    public long line() {
        return line;
    }
}
