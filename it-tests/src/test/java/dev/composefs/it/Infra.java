package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a test needs from the machine that the project's scripts provide (tools bin/test
 * installs, daemons the tests start, the helper they put in place): in CI (CI=true) its absence
 * fails the run, since a CI run that skipped them would pass having tested nothing; elsewhere
 * the test is skipped, saying why. Root and kernel features stay skips everywhere.
 */
final class Infra {
    private Infra() {}

    static boolean ci() {
        return "true".equals(System.getenv("CI"));
    }

    /** Fails in CI, skips elsewhere, unless available. */
    static void require(boolean available, String why) {
        if (ci()) {
            assertTrue(available, "CI: " + why);
        }
        assumeTrue(available, why);
    }

    /** A program that bin/lib/install-deps.sh installs, looked up on PATH. */
    static void requireTool(String name) throws IOException {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                found = true;
                break;
            }
        }
        require(found, name + " is not installed (bin/test installs it)");
    }
}
