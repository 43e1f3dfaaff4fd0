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

    static Path assets() {
        return repo().resolveSibling("shared").resolve("conformance/upstream-assets");
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
        Path err = Files.createTempFile("cli", ".err");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timeout: " + cmd);
        }
        String e = Files.readString(err, StandardCharsets.ISO_8859_1);
        Files.delete(err);
        return new Result(p.exitValue(), out, e);
    }

    static Result run(String... argv) throws IOException, InterruptedException {
        return run(List.of(argv), null, Map.of());
    }
}
