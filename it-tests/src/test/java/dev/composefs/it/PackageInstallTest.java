package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The package as a user gets it (it-tests/package/install-test.sh): the .deb installed with dpkg
 * in clean Debian 12 and 13 root file systems (mmdebstrap, no JDK), its commands run there, a
 * mount through mount(8), hostile JAVA_* variables, nothing written under /usr, dpkg -r; the
 * tarball unpacked under a path with a space and run by a non-root user.
 */
class PackageInstallTest {
    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES)
    void thePackageInstallsRunsAndRemovesCleanlyOnDebian12And13() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root: dpkg in a chroot, a mount");
        boolean ci = "true".equals(System.getenv("CI"));
        boolean tools = Files.isExecutable(Path.of("/usr/bin/mmdebstrap")) && MountGuard.mountable();
        if (ci) {
            assertTrue(tools, "CI: mmdebstrap (bin/lib/install-deps.sh installs it), erofs and overlay are needed");
        }
        assumeTrue(tools, "needs mmdebstrap (bin/lib/install-deps.sh installs it) and a kernel with erofs and overlay");
        Path work = Files.createTempDirectory(Path.of("/var/tmp"), "composefs-package-test");
        try {
            List<String> ok = CheckScript.run(List.of(Cli.repo().resolve("it-tests/package/install-test.sh").toString(),
                    Cli.repo().toString(), work.toString(), "bookworm", "trixie"), 20);
            for (String suite : List.of("bookworm", "trixie")) {
                for (String check : List.of("dpkg -i installs", "root's and writable by root only", "in section 8",
                        "the checkout's digest", "through mount(8)", "ignores JAVA_TOOL_OPTIONS", "nothing under /usr",
                        "dpkg -r removes every file")) {
                    assertTrue(ok.stream().anyMatch(l -> l.startsWith("ok: " + suite + ": ") && l.contains(check)),
                            suite + ": " + check + "\n" + String.join("\n", ok));
                }
            }
            CheckScript.assertChecked(ok, "tarball: ");
        } finally {
            new ProcessBuilder("rm", "-rf", "--one-file-system", work.toString()).start().waitFor();
        }
    }
}
