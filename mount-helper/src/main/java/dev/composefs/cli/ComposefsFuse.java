package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fuse.FuseService;
import dev.composefs.core.mount.MountException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * composefs-fuse: serves an image through FUSE, with upstream's syntax. It returns once the mount
 * is ready and serves in the background (a process of its own, in a session of its own), or in
 * the foreground with -f. umount or fusermount3 -u ends it; so do SIGTERM and SIGINT, which
 * unmount first.
 */
@Command(name = "composefs-fuse", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Mount a composefs image through FUSE: as root, or as any user who can read the image "
                + "and the store (through fusermount3).",
            "Options (-o, comma-separated): source=IMAGE (required), basedir=DIR[:DIR...] (required), "
                + "digest=HEX (the image's fs-verity digest; implies verity), verity (each object's "
                + "fs-verity digest is checked before its first byte is served; where the store has no "
                + "fs-verity it is computed, once per object), tryverity, noacl, allow_other, nopassthrough "
                + "(reads through the server even where the kernel could read the objects itself)."})
final class ComposefsFuse implements Callable<Integer> {
    private static final String PROG = "composefs-fuse";
    private final Main.Io io;

    ComposefsFuse(Main.Io io) {
        this.io = io;
    }

    @Option(names = "-f", description = "serve in the foreground")
    boolean foreground;

    @Option(names = "-o", paramLabel = "OPTIONS", required = true, description = "mount options (repeatable)")
    List<String> options = new ArrayList<>();

    /** Set by the background form for its server: say "ready" on standard output once mounted. */
    @Option(names = "--notify-ready", hidden = true)
    boolean notifyReady;

    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    @Override
    public Integer call() {
        FuseService.Options o;
        try {
            o = FuseService.Options.parse(String.join(",", options));
        } catch (MountException e) {
            io.err().println(PROG + ": " + e.getMessage());
            return 1;
        }
        if (!foreground) {
            return Background.start(io, PROG, List.of(PROG, "-o", String.join(",", options), mountpoint.toString()));
        }
        return serve(io, PROG, o, mountpoint, notifyReady);
    }

    /**
     * Mounts and serves until the mount goes: 0 then, 32 if it could not be mounted. notifyReady:
     * starts a session of its own (a terminal's ^C and hangup no longer reach it) and writes
     * "ready" to standard output once mounted.
     */
    static int serve(Main.Io io, String prog, FuseService.Options o, Path mountpoint, boolean notifyReady) {
        FuseService service;
        try {
            if (notifyReady) {
                unistd_h.setsid();
            }
            service = FuseService.start(o, mountpoint, io.err());
        } catch (MountException e) {
            Main.report(io, prog + ": " + e.getMessage(), e);
            return e.isUsage() ? 1 : 32;
        } catch (IOException e) {
            Main.report(io, prog + ": cannot mount " + o.image() + " at " + mountpoint + ": " + e.getMessage(), e);
            return 32;
        }
        // SIGTERM and SIGINT run shutdown hooks: unmount, so no dead mount is left behind
        Thread unmount = new Thread(() -> {
            try {
                service.stop();
            } catch (IOException e) {
                io.err().println(prog + ": " + e.getMessage());
            }
        }, "composefs-fuse-unmount");
        Runtime.getRuntime().addShutdownHook(unmount);
        if (notifyReady) {
            try {
                io.out().write("ready\n".getBytes());
                io.out().flush();
            } catch (IOException e) {
                // the starter is gone; it will have said why
            }
        }
        try {
            service.serve();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(unmount);
        } catch (IllegalStateException e) {
            // shutting down already: the hook has unmounted
        }
        return 0;
    }
}
