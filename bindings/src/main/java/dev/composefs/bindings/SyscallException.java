package dev.composefs.bindings;

import java.io.IOException;

/**
 * The one error type for failed Linux calls: which call, what it was about (a path, an fd or an
 * option), and errno with its symbolic name, so a message reads
 * {@code fsconfig(lowerdir+=/tmp/x): ENOENT (No such file or directory)}.
 */
public final class SyscallException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final String target;
    private final int errno;

    public SyscallException(String call, String target, int errno) {
        this(call, target, errno, null);
    }

    private SyscallException(String call, String target, int errno, String detail) {
        super(format(call, target, errno) + (detail == null ? "" : ": " + detail));
        this.call = call;
        this.target = target;
        this.errno = errno;
    }

    /** The same failure with what else is known about it (e.g. the kernel's own message) after the errno. */
    public SyscallException withDetail(String detail) {
        SyscallException e = new SyscallException(call, target, errno, detail);
        e.setStackTrace(getStackTrace());
        return e;
    }

    private static String format(String call, String target, int errno) {
        String what = target == null || target.isEmpty() ? call : call + "(" + target + ")";
        return what + ": " + Errno.name(errno) + " (" + Errno.description(errno) + ")";
    }

    public String call() {
        return call;
    }

    public String target() {
        return target;
    }

    public int errno() {
        return errno;
    }

    public String errnoName() {
        return Errno.name(errno);
    }

    public boolean is(int expected) {
        return errno == expected;
    }
}
