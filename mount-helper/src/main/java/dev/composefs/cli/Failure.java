package dev.composefs.cli;

/** A command failure whose message is already user-facing, with the exit code to use. */
final class Failure extends Exception {
    private static final long serialVersionUID = 1L;

    private final int exitCode;

    Failure(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    /** With the exception it reports, whose stack trace COMPOSEFS_DEBUG=1 shows. */
    Failure(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
