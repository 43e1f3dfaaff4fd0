package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * it-tests/kernel-matrix as part of the test command: the mount scenarios on Debian's 6.1 and
 * 6.12 kernels under qemu, on 6.1 with the 2023 composefs module loaded (the driver scenarios),
 * and on this host. The script installs what it needs (qemu, busybox,
 * the kernels) and exits non-zero on any FAIL; its table is printed either way.
 * COMPOSEFS_KERNEL_MATRIX=0 leaves it out (for quick local runs; CI runs it).
 */
class KernelMatrixTest {
    @Test
    @Timeout(value = 45, unit = TimeUnit.MINUTES)
    void mountScenariosOnEveryKernel() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the kernel matrix needs root");
        assumeTrue(!"0".equals(System.getenv("COMPOSEFS_KERNEL_MATRIX")),
                "COMPOSEFS_KERNEL_MATRIX=0: kernel matrix not requested");
        Path log = Files.createTempFile("kernel-matrix", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(Cli.repo().resolve("it-tests/kernel-matrix").toString());
            pb.environment().put("COMPOSEFS_KERNEL_DRIVER", Cli.kernelDriver().toString());
            Process p = pb
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(40, TimeUnit.MINUTES);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(out);
            assertTrue(done, "kernel matrix did not finish in 40 minutes");
            List<String> table = out.lines().dropWhile(l -> !l.startsWith("KERNEL ")).toList();
            assertTrue(table.size() > 1, "no result table:\n" + out);
            for (String kernel : List.of("6.1", "6.12", "host-")) {
                assertTrue(table.stream().anyMatch(l -> l.startsWith(kernel) && l.contains(" plain ")),
                        "no row for kernel " + kernel + ":\n" + String.join("\n", table));
            }
            assertTrue(table.stream().anyMatch(l -> l.startsWith("6.12 ") && l.contains("verity-tamper") && l.contains("PASS")),
                    "verity tamper detection must pass on 6.12:\n" + String.join("\n", table));
            for (String kernel : List.of("6.1 ", "6.12 ", "host-")) {
                for (String s : List.of(" fuse ", " fuse-verity-tamper ")) {
                    assertTrue(table.stream().anyMatch(l -> l.startsWith(kernel) && l.contains(s) && l.contains("PASS")),
                            "composefs-fuse (" + s.trim() + ") must pass on " + kernel.trim() + ":\n" + String.join("\n", table));
                }
            }
            assertTrue(table.stream().anyMatch(l -> l.startsWith("6.12 ") && l.contains("builtin-sig") && l.contains("PASS")),
                    "kernel built-in signatures must pass on 6.12:\n" + String.join("\n", table));
            if (Files.isDirectory(Cli.kernelDriver().resolve("composefs-module"))) {
                for (String s : List.of("driver-plain", "driver-cache", "driver-digest-good", "driver-verity",
                        "driver-tamper", "driver-gc", "driver-unload")) {
                    assertTrue(table.stream().anyMatch(l -> l.startsWith("6.1+composefs") && l.contains(" " + s + " ")
                            && l.contains("PASS")), s + " must pass through the 2023 module:\n" + String.join("\n", table));
                }
            }
            assertEquals(0, p.exitValue(), "kernel matrix reported a FAIL:\n" + out);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
