package dev.composefs.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the launchers in bin/ as a user would, capturing exit code and output. */
final class Cli {
    private Cli() {}

    record Result(int exit, byte[] stdout, String stderr) {
        String out() {
            return new String(stdout, StandardCharsets.ISO_8859_1);
        }
    }

    static Path repo() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        return Files.exists(p.resolve("bin/mkcomposefs")) ? p : p.getParent();
    }

    /**
     * Upstream's conformance assets: the setting COMPOSEFS_CONFORMANCE (environment) or
     * composefs.conformance (Maven property) names the conformance directory, by default
     * ../shared/conformance beside the repository. Absent, the calling test skips, saying how to
     * provide them.
     */
    static boolean hasAssets() {
        return Files.isDirectory(assetsSetting());
    }

    private static Path assetsSetting() {
        return setting("COMPOSEFS_CONFORMANCE", "composefs.conformance", "conformance").resolve("upstream-assets");
    }

    static Path assets() {
        Path a = assetsSetting();
        if (!Files.isDirectory(a)) {
            org.junit.jupiter.api.Assumptions.abort("upstream's conformance assets are not at " + a + ": set "
                    + "COMPOSEFS_CONFORMANCE (or -Dcomposefs.conformance=) to the directory holding upstream-assets/");
        }
        return a;
    }

    /**
     * The 2023 out-of-tree composefs module's source (a GPL test component, built by the kernel
     * matrix, never copied into the project): COMPOSEFS_KERNEL_DRIVER or composefs.kernelDriver
     * names the kernel-driver directory, by default ../shared/kernel-driver.
     */
    static Path kernelDriver() {
        return setting("COMPOSEFS_KERNEL_DRIVER", "composefs.kernelDriver", "kernel-driver");
    }

    /** A directory named by environment variable env, else system property prop, else ../shared/dflt. */
    private static Path setting(String env, String prop, String dflt) {
        String e = System.getenv(env);
        if (e != null && !e.isEmpty()) {
            return Path.of(e).toAbsolutePath();
        }
        String p = System.getProperty(prop);
        if (p != null && !p.isEmpty()) {
            return Path.of(p).toAbsolutePath();
        }
        return repo().resolveSibling("shared").resolve(dflt);
    }

    static Result run(List<String> argv, Path stdin, Map<String, String> env) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(argv);
        if (!cmd.get(0).contains("/")) {
            cmd.set(0, repo().resolve("bin").resolve(cmd.get(0)).toString());
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        if (stdin != null) {
            pb.redirectInput(stdin.toFile());
        } else {
            pb.redirectInput(new File("/dev/null"));
        }
        // both streams to files, so that the wait below is what bounds the run (reading a pipe to
        // its end would wait for as long as the process, or anything it left behind, holds it)
        Path err = Files.createTempFile("cli", ".err");
        Path outFile = Files.createTempFile("cli", ".out");
        pb.redirectError(err.toFile());
        pb.redirectOutput(outFile.toFile());
        try {
            Process p = pb.start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError("timeout after 300 s: " + cmd);
            }
            return new Result(p.exitValue(), Files.readAllBytes(outFile), Files.readString(err, StandardCharsets.ISO_8859_1));
        } finally {
            Files.deleteIfExists(err);
            Files.deleteIfExists(outFile);
        }
    }

    static Result run(String... argv) throws IOException, InterruptedException {
        return run(List.of(argv), null, Map.of());
    }
}
