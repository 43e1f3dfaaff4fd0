package dev.composefs.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A Debian 13 root file system made by it-tests/lib/trixie-root.sh: upstream's composefs 1.0.8
 * as upstream-mkcomposefs and upstream-composefs-info, and optionally podman with this
 * project's package. Removed on close.
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

    /** Builds one; with podman, also podman, crun and the built package (packaging/target). */
    static TrixieRoot create(boolean podman) throws IOException, InterruptedException {
        assumeAvailable();
        Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "composefs-trixie");
        TrixieRoot t = new TrixieRoot(dir);
        List<String> cmd = new ArrayList<>(List.of(Cli.repo().resolve("it-tests/lib/trixie-root.sh").toString(),
                t.root.toString()));
        if (podman) {
            cmd.addAll(List.of("--podman", "--package", Stage.deb().toString()));
        }
        Path log = dir.resolve("trixie-root.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(10, TimeUnit.MINUTES);
        if (!done || p.exitValue() != 0) {
            p.destroyForcibly();
            String out = Files.readString(log, StandardCharsets.UTF_8);
            t.close();
            throw new IllegalStateException("it-tests/lib/trixie-root.sh " + (done ? "failed" : "took over 10 minutes")
                    + ":\n" + out);
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
