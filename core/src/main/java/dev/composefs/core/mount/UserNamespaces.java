package dev.composefs.core.mount;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.linux_nsfs_h;
import dev.composefs.bindings.sched_h;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The user namespace an idmapped mount uses: one the caller names (idmap=), or one made for uidmap=/gidmap=. */
final class UserNamespaces {
    private UserNamespaces() {}

    /** How long a namespace holder may take to start; it normally takes a few milliseconds. */
    private static final long START_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** idmap=PATH: opened without blocking, and it must be a user namespace. */
    static int open(MountState st, Path ns) throws MountException {
        int fd;
        try {
            fd = st.keep(InputFiles.open(ns, InputFiles.Kind.REGULAR, "namespace file"));
        } catch (IOException e) {
            throw MountException.failed("idmap=" + e.getMessage(), e);
        }
        int type;
        try {
            type = linux_nsfs_h.nsType(fd, ns.toString());
        } catch (SyscallException e) {
            throw MountException.failed("idmap=" + ns + ": not a namespace file such as /proc/PID/ns/user ("
                    + e.errnoName() + ")", e);
        }
        if (type != sched_h.CLONE_NEWUSER) {
            throw MountException.failed("idmap=" + ns + ": a " + nsName(type) + " namespace, not a user namespace", null);
        }
        return fd;
    }

    private static String nsName(int type) {
        return switch (type) {
            case sched_h.CLONE_NEWNS -> "mount";
            case sched_h.CLONE_NEWPID -> "pid";
            case sched_h.CLONE_NEWNET -> "network";
            default -> "non-user (type 0x" + Integer.toHexString(type) + ")";
        };
    }

    /**
     * uidmap=/gidmap=: a user namespace made for this mount and held by an fd. A JVM cannot
     * unshare a user namespace itself (it has threads), and the process that holds one while its
     * maps are written must not outlive us: it is unshare(1) running cat on a pipe from this
     * process, so it ends when the pipe closes, also when this process is killed.
     */
    static int make(MountState st, MountOptions o) throws MountException {
        Process holder;
        try {
            holder = new ProcessBuilder(unshare(), "-U", "cat").redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw MountException.failed("uidmap=: cannot start unshare(1) to make the user namespace: "
                    + e.getMessage(), e);
        }
        try {
            Path proc = Path.of("/proc/" + holder.pid());
            awaitOwnNamespace(holder, proc);
            writeMap(proc.resolve("uid_map"), "uidmap", o.uidmap());
            writeMap(proc.resolve("gid_map"), "gidmap", o.gidmap());
            try {
                return st.keep(InputFiles.open(proc.resolve("ns/user"), InputFiles.Kind.REGULAR, "user namespace"));
            } catch (IOException e) {
                throw MountException.failed("uidmap=: cannot open the namespace made for it: " + e.getMessage(), e);
            }
        } finally {
            try {
                holder.getOutputStream().close();
            } catch (IOException ignored) {
                // the process is killed below either way
            }
            holder.destroyForcibly();
            try {
                holder.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String unshare() {
        for (String p : List.of("/usr/bin/unshare", "/bin/unshare")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return "unshare";
    }

    /** Waits until the holder has unshared its user namespace (its ns/user differs from ours). */
    private static void awaitOwnNamespace(Process holder, Path proc) throws MountException {
        long deadline = System.nanoTime() + START_NANOS;
        try {
            Path ours = Files.readSymbolicLink(Path.of("/proc/self/ns/user"));
            while (true) {
                try {
                    if (!Files.readSymbolicLink(proc.resolve("ns/user")).equals(ours)) {
                        return;
                    }
                } catch (IOException e) {
                    // not there yet, or gone: isAlive tells
                }
                if (!holder.isAlive()) {
                    throw MountException.failed("uidmap=: unshare -U failed (exit " + holder.exitValue()
                            + "): this kernel or its settings allow no new user namespace", null);
                }
                if (System.nanoTime() > deadline) {
                    throw MountException.failed("uidmap=: unshare -U made no user namespace within "
                            + TimeUnit.NANOSECONDS.toSeconds(START_NANOS) + " s", null);
                }
                Thread.sleep(0, 200_000);
            }
        } catch (IOException e) {
            throw MountException.failed("uidmap=: cannot read /proc/self/ns/user: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MountException.failed("uidmap=: interrupted", e);
        }
    }

    private static void writeMap(Path file, String option, List<MountOptions.IdMapping> m) throws MountException {
        StringBuilder sb = new StringBuilder();
        StringBuilder shown = new StringBuilder();
        for (MountOptions.IdMapping x : m) {
            sb.append(x.inside()).append(' ').append(x.outside()).append(' ').append(x.count()).append('\n');
            shown.append(shown.isEmpty() ? "" : "/").append(x.inside()).append(':').append(x.outside()).append(':')
                    .append(x.count());
        }
        try {
            Files.writeString(file, sb);
        } catch (IOException e) {
            throw MountException.failed(option + "=" + shown + ": the kernel refused this " + (option.equals("uidmap")
                    ? "uid" : "gid") + " mapping (" + e.getMessage() + "; extents must not overlap, at most 340)", e);
        }
    }
}
