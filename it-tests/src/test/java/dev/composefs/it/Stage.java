package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The tree the build lays out (packaging/target/stage: the tarball's content, what the package
 * installs under /usr), and its launchers' java command lines: a test adds VM options (a class
 * log, -XX:AOTMode=on) to exactly the flags, cache and class path a launcher runs with, which
 * the launcher itself keeps from its caller (-Xlog:disable; a fixed environment for root's).
 */
final class Stage {
    private Stage() {}

    static Path dir() {
        Path d = Cli.repo().resolve("packaging/target/stage");
        assertTrue(Files.isDirectory(d), d + " is missing: the build (mvn package) lays it out before the it-tests");
        return d;
    }

    static Path lib() {
        return dir().resolve("lib/composefs-java");
    }

    /**
     * The java command launcher (relative to the stage, e.g. bin/mkcomposefs) runs, with vm
     * options added after its own and args for "$@". jit is what a mount launcher's $jit is.
     */
    static List<String> javaCommand(String launcher, List<String> vm, List<String> args, String jit) throws IOException {
        String script = Files.readString(dir().resolve(launcher));
        String exec = script.lines().filter(l -> l.startsWith("exec ")).findFirst().orElseThrow();
        String line = exec.substring(exec.indexOf("\"$lib/runtime/bin/java\""));
        List<String> out = new ArrayList<>();
        for (String word : words(line)) {
            if (word.equals("$@")) {
                out.addAll(args);
            } else if (word.equals("$jit")) {
                if (!jit.isEmpty()) {
                    out.add(jit);
                }
            } else {
                if (word.equals("-cp")) {
                    out.addAll(vm);
                }
                // mkcomposefs's launcher chooses its cache by whether --from-file is among the arguments
                String cache = args.contains("--from-file") ? "mkcomposefs-from-file.aot" : "mkcomposefs.aot";
                out.add(word.replace("$lib", lib().toString()).replace("$cache", cache));
            }
        }
        return out;
    }

    /** Words as sh splits them, double quotes removed (the launchers use no other quoting). */
    private static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : line.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
                any = true;
            } else if (c == ' ' && !quoted) {
                if (any) {
                    out.add(w.toString());
                }
                w.setLength(0);
                any = false;
            } else {
                w.append(c);
                any = true;
            }
        }
        if (any) {
            out.add(w.toString());
        }
        return out;
    }
}
