package dev.composefs.core.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Kernel releases and /proc/filesystems as the strategies read them. */
class KernelProbeTest {
    private static void version(String release, int major, int minor) {
        KernelProbe k = KernelProbe.of(release, Set.of());
        assertEquals(major, k.major(), release);
        assertEquals(minor, k.minor(), release);
    }

    @Test
    void releases() {
        version("6.18.44-fc-v669", 6, 18);
        version("6.1.0-28-amd64", 6, 1);
        version("6.12.57+deb13-amd64", 6, 12);
        version("5.10", 5, 10);
        version("6", 6, 0);
        version("4.19.0-rc1", 4, 19);
        version("weird", 0, 0);
        version("", 0, 0);
        assertTrue(KernelProbe.of("6.15.0", Set.of()).detachedLayers());
        assertFalse(KernelProbe.of("6.14.9", Set.of()).detachedLayers());
    }

    @Test
    void theRunningKernel() throws Exception {
        KernelProbe k = KernelProbe.running();
        String release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        assertEquals(release, k.release());
        assertEquals(Integer.parseInt(release.split("\\.")[0]), k.major());
        assertEquals(Integer.parseInt(release.split("\\.")[1].replaceAll("[^0-9].*", "")), k.minor());
        for (String line : Files.readAllLines(Path.of("/proc/filesystems"))) {
            String[] f = line.trim().split("\\s+");
            assertTrue(k.filesystems().contains(f[f.length - 1]), line);
        }
        assertTrue(k.filesystems().contains("proc"));
        assertFalse(k.filesystems().contains("nodev"));
    }
}
