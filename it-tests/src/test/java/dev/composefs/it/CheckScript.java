package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test script that prints "ok: ..." per check and "FAIL: ..." at its first failure
 * (it-tests/package/install-test.sh, it-tests/podman/podman-test.sh).
 */
final class CheckScript {
    private CheckScript() {}

    /** Runs cmd to its end (killed after minutes), prints its output, fails unless it exits 0; its "ok: " lines. */
    static List<String> run(List<String> cmd, int minutes) throws Exception {
        Path log = Files.createTempFile("check-script", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(minutes, TimeUnit.MINUTES);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroy);
                p.destroy();
                p.waitFor(60, TimeUnit.SECONDS);
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(out);
            assertTrue(done, cmd.get(0) + " did not finish in " + minutes + " minutes:\n" + out);
            assertEquals(0, p.exitValue(), out);
            return out.lines().filter(l -> l.startsWith("ok: ")).toList();
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** Fails unless one of ok starts with "ok: " + check. */
    static void assertChecked(List<String> ok, String check) {
        assertTrue(ok.stream().anyMatch(l -> l.startsWith("ok: " + check)), "no 'ok: " + check + "' in:\n" + String.join("\n", ok));
    }
}
