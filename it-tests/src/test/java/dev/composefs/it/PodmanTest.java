package dev.composefs.it;


import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * podman 5 from Debian 13 with containers-storage's composefs backend, this project's package
 * installed as its mkcomposefs (it-tests/podman): images pushed to a registry on 127.0.0.1 as
 * gzip and zstd:chunked, pulled, inspected, run and exec'd; each layer's blob identical to what
 * upstream's mkcomposefs 1.0.8 writes for the dump podman sent.
 */
class PodmanTest {
    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void podmanPullsAndRunsImagesThroughThisPackagesMkcomposefs() throws Exception {
        TrixieRoot.assumeAvailable();
        boolean tools = Files.isExecutable(Path.of("/usr/bin/docker-registry")) && MountGuard.mountable();
        String why = "needs docker-registry (bin/lib/install-deps.sh installs it) and a kernel with erofs and overlay";
        Infra.require(tools, why);
        Path work = Files.createTempDirectory(Path.of("/var/tmp"), "composefs-podman-test");
        try (Registry registry = Registry.start(work.resolve("registry"), null)) {
            List<String> ok = CheckScript.run(List.of(Cli.repo().resolve("it-tests/podman/podman-test.sh").toString(),
                    Cli.repo().toString(), work.resolve("test").toString(), registry.host()), 15);
            for (String check : List.of("images built in a storage of their own and pushed", "zstd:chunked: podman pulled 2 images",
                    "zstd:chunked: each blob is rebuilt byte for byte by upstream",
                    "gzip: podman pulled 3 images", "gzip: the dump podman sent for each layer gives upstream's bytes",
                    "small:zstd: files, modes", "small:gzip: files, modes", "small-fifo:gzip: the fifo",
                    "small:zstd: podman run -d and podman exec work", "small:gzip: podman run -d and podman exec work",
                    "minbase:zstd: a Debian 13 minbase runs, and dpkg --verify", "minbase:gzip: a Debian 13 minbase runs")) {
                CheckScript.assertChecked(ok, check);
            }
        } finally {
            new ProcessBuilder("rm", "-rf", "--one-file-system", work.toString()).start().waitFor();
        }
    }
}
