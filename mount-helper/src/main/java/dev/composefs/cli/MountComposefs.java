package dev.composefs.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * mount.composefs, the mount(8) helper. The orchestrator behind it is not built yet, so for now
 * it parses the helper's calling convention and refuses plainly instead of pretending to mount.
 */
@Command(name = "mount.composefs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Mount a composefs image (mount(8) helper calling convention).")
final class MountComposefs implements Callable<Integer> {
    private final Main.Io io;

    MountComposefs(Main.Io io) {
        this.io = io;
    }

    @Option(names = "-o", paramLabel = "OPTIONS", description = "comma-separated mount options")
    List<String> options;

    @Option(names = "-s", description = "sloppy (mount(8) convention)")
    boolean sloppy;

    @Option(names = "-f", description = "fake (mount(8) convention)")
    boolean fake;

    @Option(names = "-n", description = "no mtab (mount(8) convention)")
    boolean noMtab;

    @Option(names = "-v", description = "verbose")
    boolean verbose;

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1", paramLabel = "TARGET")
    String target;

    @Override
    public Integer call() {
        io.err().println("mount.composefs: mounting is not available in this build yet (the mount orchestrator "
                + "is still to come); nothing was mounted at " + target);
        return 32;
    }
}
