package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fuse.FuseService;
import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import dev.composefs.core.util.Capabilities;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * mount.composefs, the mount(8) helper: {@code mount -t composefs IMAGE TARGET -o basedir=STORE}
 * ends up here as {@code mount.composefs IMAGE TARGET -o OPTIONS}. Exit codes as mount(8): 1 for
 * usage and bad options, 32 when the mount itself fails. The arguments are parsed by hand, not
 * by picocli: this runs on the boot path, and picocli's reflective model costs more JVM
 * start-up than the mount itself.
 */
final class MountComposefs {
    private static final String PROG = "mount.composefs";
    static final String USAGE = """
            Usage: mount.composefs [-s] [-f] [-n] [-v] [-t composefs] [-o OPTIONS] IMAGE TARGET
            Mount a composefs image (mount(8) helper calling convention).
              -o OPTIONS   comma-separated mount options (may be repeated)
              -t composefs  the filesystem type, as upstream's helper takes it (no other)
              -s           sloppy: warn about unknown options instead of refusing them
              -f           fake: run every check a mount makes, mount nothing
              -n           no mtab (accepted; there is no mtab to write)
              -v           verbose: say which mount strategy was taken and why
              -h, --help   this text;  -V, --version   version
            Options (-o, comma-separated, a backslash escapes the next character):
              basedir=DIR[:DIR...]  object stores, searched in order (required); a ':' inside
                                    a path is written '\\:'
              digest=HEX            the image must have this fs-verity digest (implies verity,
                                    unless tryverity is given too)
              verity                every file must carry a digest and every object must match it
              tryverity             enforce fs-verity where the kernel and stores can
              signature=FILE        the image must carry this fs-verity signature (as composefs
                                    sign / fsverity sign write it) by a trusted key; implies
                                    verity like digest= (tryverity relaxes only the objects)
              trust=CERT|DIR        trusted certificates for signature= (default
                                    /etc/composefs/trust.d)
              idmap=/proc/PID/ns/user   idmap the mount with that user namespace
              uidmap=IN:OUT:N[/...],gidmap=...  idmap with a namespace made for this mount
              upperdir=DIR,workdir=DIR  writable overlay; writes land in upperdir
              fuse                  serve through FUSE (composefs-fuse) instead of the kernel's
                                    mounts; chosen by itself for a user who is not
                                    root and has no CAP_SYS_ADMIN
              noacl, allow_other    with FUSE: no POSIX ACL checks; let other users in
              ro, rw, nosuid, nodev, noexec, noatime, nodiratime
            Exit status: 0 mounted, 1 usage or bad option, 32 mount failure.
            """;

    private final Main.Io io;
    private final List<String> options = new ArrayList<>();
    private boolean sloppy;
    private boolean fake;
    private boolean verbose;
    private Path image;
    private Path target;

    MountComposefs(Main.Io io) {
        this.io = io;
    }

    private static final Map<String, Boolean> OPTIONS = Map.of("-h", false, "--help", false, "-V", false,
            "--version", false, "-o", true, "-t", true, "-s", false, "-f", false, "-n", false, "-v", false);

    /** Parses the mount(8) helper convention (options and operands in any order, -oOPTS or -o OPTS) and mounts. */
    int run(String[] args) {
        Getopt.Parsed parsed;
        try {
            parsed = Getopt.parse(args, OPTIONS);
        } catch (Failure f) {
            return usage(f.getMessage());
        }
        for (Getopt.Opt o : parsed.options()) {
            switch (o.name()) {
                case "-h", "--help" -> {
                    print(USAGE);
                    return 0;
                }
                case "-V", "--version" -> {
                    print(String.join("\n", Version.lines(PROG)) + "\n");
                    return 0;
                }
                case "-o" -> options.add(o.value());
                case "-t" -> {
                    if (!o.value().equals("composefs")) {
                        return usage("unsupported filesystem type '" + o.value() + "' (-t takes only composefs)");
                    }
                }
                case "-s" -> sloppy = true;
                case "-f" -> fake = true;
                case "-v" -> verbose = true;
                case "-n" -> { } // no mtab to write
                default -> throw new IllegalStateException("option " + o.name() + " in OPTIONS but not handled");
            }
        }
        List<String> operands = parsed.operands();
        if (operands.size() != 2) {
            return usage(operands.size() < 2 ? "IMAGE and TARGET are required" : "too many operands: " + operands);
        }
        image = Path.of(operands.get(0));
        target = Path.of(operands.get(1));
        return mount();
    }

    private void print(String text) {
        try {
            io.out().write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            Main.report(io, PROG + ": cannot write output: " + e.getMessage(), e);
        }
    }

    private int usage(String problem) {
        io.err().println(PROG + ": " + problem);
        io.err().println("Try '" + PROG + " --help' for more information.");
        return 1;
    }

    private int mount() {
        try {
            MountOptions opts = MountOptions.parse(options, key -> {
                if (!sloppy) {
                    throw MountException.usage("unsupported option '" + key + "'");
                }
                io.err().println(PROG + ": ignoring unsupported option '" + key + "' (-s)");
            });
            // A user who is not root and cannot mount gets FUSE. A root without CAP_SYS_ADMIN (a
            // confined container's) gets the kernel's refusal: fusermount3 could not gain it either.
            boolean unprivileged = !Capabilities.sysAdmin() && unistd_h.geteuid() != 0;
            if (opts.fuse().requested() || unprivileged) {
                verbose(opts.fuse().requested() ? "fuse: serving through FUSE (composefs-fuse)"
                        : "no CAP_SYS_ADMIN: serving through FUSE (composefs-fuse) as this user");
                FuseService.Options fo = FuseService.Options.of(image, opts);
                if (fake) {
                    verbose("-f: " + fo.image() + " at " + target + " not checked further, not mounted");
                    return 0;
                }
                return Background.start(io, PROG, List.of("composefs-fuse", "-o",
                        FuseService.Options.withSource(image.toAbsolutePath(), String.join(",", options)),
                        target.toAbsolutePath().toString()));
            }
            if (fake) {
                // -f checks everything a mount would, short of the mount calls themselves
                new Mounter(KernelProbe.running(), this::verbose).check(image, target, opts);
                verbose("-f: " + image + " at " + target + " checked, not mounted");
                return 0;
            }
            KernelProbe kernel = KernelProbe.running();
            Mounter.Result r = new Mounter(kernel, this::verbose).mount(image, target, opts);
            if (verbose) {
                io.err().println(PROG + ": mounted " + image + " at " + target + " via " + r.strategy());
            }
            return 0;
        } catch (MountException e) {
            Main.report(io, PROG + ": " + e.getMessage(), e);
            return e.isUsage() ? 1 : 32;
        } catch (IOException | RuntimeException e) {
            Main.report(io, PROG + ": cannot mount " + image + " at " + target + ": " + e, e);
            return 32;
        }
    }

    private void verbose(String s) {
        if (verbose) {
            io.err().println(PROG + ": " + s);
        }
    }
}
