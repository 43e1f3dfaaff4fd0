package dev.composefs.cli;

import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * mount.composefs, the mount(8) helper: {@code mount -t composefs IMAGE TARGET -o basedir=STORE}
 * ends up here as {@code mount.composefs IMAGE TARGET -o OPTIONS}. Exit codes as mount(8): 1 for
 * usage and bad options, 32 when the mount itself fails.
 */
@Command(name = "mount.composefs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Mount a composefs image (mount(8) helper calling convention).",
        footer = {"", "Options (-o, comma-separated, a backslash escapes the next character):",
            "  basedir=DIR[:DIR...]  object stores, searched in order (required)",
            "  digest=HEX            the image must have this fs-verity digest (implies verity)",
            "  verity                every file must carry a digest and every object must match it",
            "  tryverity             enforce fs-verity where the kernel and stores can",
            "  idmap=/proc/PID/ns/user   idmap the mount with that user namespace",
            "  uidmap=IN:OUT:N[/...],gidmap=...  idmap with a namespace made for this mount",
            "  upperdir=DIR,workdir=DIR  writable overlay; writes land in upperdir",
            "  ro, rw, nosuid, nodev, noexec, noatime, nodiratime",
            "Exit status: 0 mounted, 1 usage or bad option, 32 mount failure."})
final class MountComposefs implements Callable<Integer> {
    private final Main.Io io;

    MountComposefs(Main.Io io) {
        this.io = io;
    }

    @Option(names = "-o", paramLabel = "OPTIONS", description = "comma-separated mount options")
    List<String> options;

    @Option(names = "-s", description = "sloppy: warn about unknown options instead of refusing them")
    boolean sloppy;

    @Option(names = "-f", description = "fake: check the request, mount nothing")
    boolean fake;

    @Option(names = "-n", description = "no mtab (accepted; there is no mtab to write)")
    boolean noMtab;

    @Option(names = "-v", description = "verbose: say which mount strategy was taken and why")
    boolean verbose;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "TARGET")
    Path target;

    @Override
    public Integer call() {
        String prog = "mount.composefs";
        try {
            MountOptions opts = MountOptions.parse(options == null ? "" : String.join(",", options), key -> {
                if (!sloppy) {
                    throw MountException.usage("unsupported option '" + key + "'");
                }
                io.err().println(prog + ": ignoring unsupported option '" + key + "' (-s)");
            });
            if (!Files.isRegularFile(image)) {
                throw MountException.failed(image + ": image does not exist or is not a regular file", null);
            }
            if (fake) {
                if (verbose) {
                    io.err().println(prog + ": -f: not mounting " + image + " at " + target);
                }
                return 0;
            }
            KernelProbe kernel = KernelProbe.running();
            traceTiming();
            Mounter.Result r = new Mounter(kernel, s -> {
                if (verbose) {
                    io.err().println(prog + ": " + s);
                }
            }).mount(image, target, opts);
            if (verbose) {
                io.err().println(prog + ": mounted " + image + " at " + target + " via " + r.strategy());
            }
            return 0;
        } catch (MountException e) {
            io.err().println(prog + ": " + e.getMessage());
            return e.isUsage() ? 1 : 32;
        } catch (IOException | RuntimeException e) {
            io.err().println(prog + ": cannot mount " + image + " at " + target + ": " + e);
            return 32;
        }
    }

    /**
     * For bench/mount: appends the wall-clock time at which the orchestrator starts (everything
     * before it is launcher and JVM start-up) to the file named by COMPOSEFS_TIMING_FILE.
     */
    private static void traceTiming() throws IOException {
        String file = System.getenv("COMPOSEFS_TIMING_FILE");
        if (file != null && !file.isEmpty()) {
            Instant now = Instant.now();
            long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
            Files.writeString(Path.of(file), "orchestrator-start " + micros + "\n", StandardCharsets.US_ASCII,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
    }
}
