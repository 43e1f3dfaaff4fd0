package dev.composefs.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Debian 13 root file system made by it-tests/lib/trixie-root.sh: upstream's composefs 1.0.8
 * as upstream-mkcomposefs and upstream-composefs-info. Removed on close.
 */
final class TrixieRoot implements AutoCloseable {
    final Path dir;
    final Path root;

    private TrixieRoot(Path dir) {
        this.dir = dir;
        this.root = dir.resolve("root");
    }

    /**
     * Needs root, mmdebstrap and Debian's mirrors: CI fails without them, elsewhere the test
     * is skipped saying why.
     */
    static void assumeAvailable() {
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean tools = Files.isExecutable(Path.of("/usr/bin/mmdebstrap"));
        assumeTrue(root, "needs root: mmdebstrap, chroot");
        Infra.require(tools, "needs mmdebstrap (bin/lib/install-deps.sh installs it)");
    }

    /** Builds one (podman's test makes its own, with podman and the package: it-tests/podman). */
    static TrixieRoot create() throws Exception {
        assumeAvailable();
        TrixieRoot t = new TrixieRoot(Files.createTempDirectory(Path.of("/var/tmp"), "composefs-trixie"));
        try {
            CheckScript.run(List.of(Cli.repo().resolve("it-tests/lib/trixie-root.sh").toString(), t.root.toString()), 10);
        } catch (Throwable e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** A shell command line run in the root (with /proc, which the package's runtime needs for $ORIGIN). */
    Cli.Result sh(String script) throws IOException, InterruptedException {
        return Cli.run(List.of("/usr/bin/env", "unshare", "-m", "--propagation", "private", "sh", "-c",
                "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin"
                        + " HOME=/root LC_ALL=C.UTF-8 sh -c \"$1\"", root.toString(), script), null, Map.of());
    }

    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder("rm", "-rf", "--one-file-system", dir.toString()).inheritIO().start().waitFor();
    }
}
