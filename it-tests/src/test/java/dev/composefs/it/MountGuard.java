package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What every test that mounts shares: the check that this host can mount at all (else the test
 * is skipped with the reason), and, per test, a snapshot of the mount table and loop devices
 * that must be the same afterwards; whatever a test leaves mounted fails it and is unmounted
 * either way. As a JUnit extension ({@code @RegisterExtension}) it does so around every test.
 */
final class MountGuard implements BeforeEachCallback, AfterEachCallback {
    private Set<String> mountsBefore;
    private Set<String> loopsBefore;
    private final List<Path> mountpoints = new ArrayList<>();

    /** Takes the snapshot that {@link #nothingLeftBehind} compares with. */
    void snapshot() throws IOException {
        mountsBefore = mounts();
        loopsBefore = loops();
        mountpoints.clear();
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        snapshot();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        nothingLeftBehind();
    }

    /** Skips the calling test class where mounting is not possible here, saying why. */
    static void assumeMountable() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting needs root");
        assumeTrue(mountable(), "this kernel registers no erofs or no overlay filesystem");
    }

    /** Whether this kernel has EROFS and overlayfs (their modules loaded where they are modules). */
    static boolean mountable() throws Exception {
        SourceTree.sh("sh", "-c", "modprobe -q erofs; modprobe -q overlay; modprobe -q loop; true");
        String fs = Files.readString(Path.of("/proc/filesystems"));
        return fs.contains("\terofs\n") && fs.contains("\toverlay\n");
    }

    /** A new mount point under base, unmounted after the test whatever happens. */
    Path mountpoint(Path base, String name) throws IOException {
        Path p = Files.createDirectories(base.resolve("mnt").resolve(name));
        mountpoints.add(p);
        return p;
    }

    /** An existing directory the test mounts over (a bind mount onto itself), unmounted after the test whatever happens. */
    Path mountedOver(Path dir) {
        mountpoints.add(dir);
        return dir;
    }

    Set<String> loopsBefore() {
        return loopsBefore;
    }

    /** Fails with what the test left mounted or attached, after unmounting its mount points. */
    void nothingLeftBehind() throws Exception {
        for (int i = 0; i < 50 && !(mounts().equals(mountsBefore) && loops().equals(loopsBefore)); i++) {
            Thread.sleep(20); // loop autoclear finishes asynchronously after the last umount
        }
        List<String> leaked = new ArrayList<>();
        mounts().stream().filter(m -> !mountsBefore.contains(m)).forEach(m -> leaked.add("mount: " + m));
        loops().stream().filter(l -> !loopsBefore.contains(l)).forEach(l -> leaked.add("loop device: " + l));
        for (int i = mountpoints.size() - 1; i >= 0; i--) {
            new ProcessBuilder("umount", "-l", mountpoints.get(i).toString()).redirectErrorStream(true).start().waitFor();
        }
        assertEquals(List.of(), leaked, "left behind after the test");
    }

    /** Mount points (and their sources and options) of this mount namespace. */
    static Set<String> mounts() throws IOException {
        Set<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            out.add(f[4] + " " + line.substring(line.indexOf(" - ") + 3));
        }
        return out;
    }

    static boolean mounted(Path mnt) throws IOException {
        return mounts().stream().anyMatch(m -> m.startsWith(mnt + " "));
    }

    /** Bound loop devices and their backing files. */
    static Set<String> loops() throws IOException {
        Set<String> out = new TreeSet<>();
        try (var s = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
            for (Path dev : s) {
                Path backing = dev.resolve("loop/backing_file");
                if (Files.exists(backing)) {
                    out.add(dev.getFileName() + " " + Files.readString(backing).trim());
                }
            }
        }
        return out;
    }
}
