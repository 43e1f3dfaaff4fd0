package dev.composefs.cli;

import dev.composefs.core.mount.MountException;
import dev.composefs.core.systemd.MountUnit;
import dev.composefs.core.util.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs mount-unit and composefs fstab-line: a composefs mount for systemd. */
final class MountUnitCommand {
    private MountUnitCommand() {}

    /** What both commands describe: the image, the mount point and the mount options. */
    static final class Mount {
        @Option(names = "--options", paramLabel = "OPTS", required = true,
                description = "mount options, as for mount.composefs (basedir= is required; nofail for a mount that "
                        + "must not hold up booting)")
        String options;

        @Parameters(index = "0", paramLabel = "IMAGE")
        Path image;

        @Parameters(index = "1", paramLabel = "WHERE")
        Path where;
    }

    @Command(name = "mount-unit", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Print (or with --install, write) a systemd .mount unit that mounts IMAGE at WHERE "
                    + "through mount.composefs: named after WHERE as systemd requires, RequiresMountsFor= for every "
                    + "store in basedir= and for the image, so a store on its own mount is mounted first."})
    static final class Unit implements Callable<Integer> {
        private final Main.Io io;

        Unit(Main.Io io) {
            this.io = io;
        }

        @Mixin
        Mount m;

        @Option(names = "--wanted-by", paramLabel = "TARGET", description = "[Install] WantedBy= (default: local-fs.target)")
        String wantedBy = "local-fs.target";

        @Option(names = "--install", arity = "0..1", paramLabel = "DIR", fallbackValue = "/etc/systemd/system",
                description = "write the unit into DIR (default /etc/systemd/system) and print its path; give DIR "
                        + "as --install=DIR, or put --install after IMAGE and WHERE")
        Path install;

        @Override
        public Integer call() {
            try {
                String text = MountUnit.unit(m.image, m.where, m.options, wantedBy);
                String out = text;
                if (install != null) {
                    try {
                        Files.createDirectories(install);
                    } catch (FileSystemException e) {
                        throw new IOException(e.getFile() + ": cannot create the directory: " + AtomicFile.reason(e), e);
                    }
                    Path file = install.resolve(MountUnit.unitName(m.where));
                    try {
                        AtomicFile.write(file, text.getBytes(StandardCharsets.UTF_8));
                    } catch (IOException e) {
                        throw new IOException(file + ": cannot write the unit: " + e.getMessage(), e);
                    }
                    out = file + "\n";
                }
                io.out().write(out.getBytes(StandardCharsets.UTF_8));
                io.out().flush();
                return 0;
            } catch (MountException e) {
                Main.report(io, "composefs mount-unit: " + e.getMessage(), e);
                return 1;
            } catch (IOException e) {
                Main.report(io, "composefs mount-unit: " + e.getMessage(), e);
                return 1;
            }
        }
    }

    @Command(name = "fstab-line", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Print the /etc/fstab line that mounts IMAGE at WHERE through mount.composefs, with "
                    + "x-systemd.requires-mounts-for= for every store in basedir=."})
    static final class Fstab implements Callable<Integer> {
        private final Main.Io io;

        Fstab(Main.Io io) {
            this.io = io;
        }

        @Mixin
        Mount m;

        @Override
        public Integer call() {
            try {
                io.out().write(MountUnit.fstabLine(m.image, m.where, m.options).getBytes(StandardCharsets.UTF_8));
                io.out().flush();
                return 0;
            } catch (IOException e) {
                Main.report(io, "composefs fstab-line: " + e.getMessage(), e);
                return 1;
            }
        }
    }
}
