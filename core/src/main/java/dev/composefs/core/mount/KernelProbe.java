package dev.composefs.core.mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * What the running kernel offers, probed once: the filesystems it registers (/proc/filesystems,
 * after loading erofs and overlay on demand by trying them) and its version, from which the
 * overlayfs and EROFS features composefs needs follow.
 */
public record KernelProbe(String release, int major, int minor, Set<String> filesystems) {

    public static KernelProbe running() throws IOException {
        String release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        Set<String> fs = new HashSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/filesystems"))) {
            String[] f = line.trim().split("\\s+");
            fs.add(f[f.length - 1]);
        }
        return of(release, fs);
    }

    public static KernelProbe of(String release, Set<String> filesystems) {
        String[] v = release.split("[.-]");
        int major = v.length > 0 ? parse(v[0]) : 0;
        int minor = v.length > 1 ? parse(v[1]) : 0;
        return new KernelProbe(release, major, minor, Set.copyOf(filesystems));
    }

    private static int parse(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    public boolean atLeast(int maj, int min) {
        return major > maj || (major == maj && minor >= min);
    }

    /** The composefs filesystem of the 2022-2023 patch series (no distribution kernel has it). */
    public boolean composefsDriver() {
        return filesystems.contains("composefs");
    }

    /** overlayfs data-only lower layers ("::" in lowerdir): Linux 6.5. */
    public boolean dataOnlyLayers() {
        return atLeast(6, 5);
    }

    /** overlayfs verity=require: Linux 6.6. */
    public boolean overlayVerity() {
        return atLeast(6, 6);
    }

    /** fsconfig keys lowerdir+ and datadir+ (one layer per call, no escaping): Linux 6.8. */
    public boolean layerAppendKeys() {
        return atLeast(6, 8);
    }

    /** EROFS mounted straight from a regular file, no loop device: Linux 6.12. */
    public boolean erofsFileBacked() {
        return atLeast(6, 12);
    }

    /** overlayfs layers given as detached mounts (an fsmount fd): Linux 6.15. */
    public boolean detachedLayers() {
        return atLeast(6, 15);
    }

    public String describe() {
        return "kernel " + release + (composefsDriver() ? ", composefs driver registered" : "")
                + ", data-only layers " + yes(dataOnlyLayers()) + ", overlay verity " + yes(overlayVerity())
                + ", lowerdir+/datadir+ " + yes(layerAppendKeys()) + ", file-backed EROFS " + yes(erofsFileBacked())
                + ", detached layers " + yes(detachedLayers());
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }
}
