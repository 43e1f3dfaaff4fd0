package dev.composefs.core.mount;

import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
        // read through the bindings a mount links anyway, not java.nio.file's channels (32 classes)
        String release = procFile("/proc/sys/kernel/osrelease").trim();
        Set<String> fs = new HashSet<>();
        // by hand, not String.split: a regex compiled per line is a millisecond of a mount helper
        // run, which is interpreted ("nodev<TAB>name" or "<TAB>name")
        for (String line : procFile("/proc/filesystems").split("\n", -1)) {
            String name = line.substring(line.lastIndexOf('\t') + 1).strip();
            if (!name.isEmpty()) {
                fs.add(name);
            }
        }
        return of(release, fs);
    }

    private static String procFile(String path) throws IOException {
        return new String(InputFiles.read(Path.of(path), 1 << 20, "kernel information"), StandardCharsets.US_ASCII);
    }

    /** release is "MAJOR.MINOR[.PATCH][-SUFFIX]"; what does not parse counts as 0. */
    public static KernelProbe of(String release, Set<String> filesystems) {
        int dot = release.indexOf('.');
        int major = number(release, 0);
        int minor = dot < 0 ? 0 : number(release, dot + 1);
        return new KernelProbe(release, major, minor, Set.copyOf(filesystems));
    }

    /** The decimal number at s[from...], up to the first non-digit; 0 if there is none. */
    private static int number(String s, int from) {
        int n = 0;
        int i = from;
        for (; i < s.length() && i - from < 9 && s.charAt(i) >= '0' && s.charAt(i) <= '9'; i++) {
            n = n * 10 + (s.charAt(i) - '0');
        }
        return i == from ? 0 : n;
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
