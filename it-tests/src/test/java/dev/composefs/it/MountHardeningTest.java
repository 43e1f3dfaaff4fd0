package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountCalls;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import dev.composefs.core.util.Staging;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mount path against what broke it: layer paths past the mount API's limits, options that
 * do not fit, files that are not what they claim to be, a huge image behind digest=, a killed
 * mount, and -f. Real mounts on this kernel (older kernels' strategies forced through the
 * probe); after every test mountinfo and the loop devices are as before.
 */
class MountHardeningTest {
    @TempDir
    static Path work;
    static Path src;
    static Path image;
    /** Over 255 bytes (fsconfig's limit for one value); two of them with upper and work exceed 4095. */
    static Path longDir;
    static Path storeA;
    static Path storeB;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void build() throws Exception {
        MountGuard.assumeMountable();
        src = work.resolve("src");
        SourceTree.build(src);
        Files.delete(src.resolve("dev/whiteout")); // a whiteout hides itself in the mounted view
        String seg = "l".repeat(250);
        longDir = Files.createDirectories(work.resolve(seg + "/" + seg + "/" + seg + "/" + seg));
        storeA = longDir.resolve("store-a-" + "a".repeat(200));
        storeB = Files.createDirectories(longDir.resolve("store-b-" + "b".repeat(200)));
        image = work.resolve("tree.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--hardlinks", "--digest-store=" + storeA, src.toString(),
                image.toString());
        assertEquals(0, r.exit(), r.stderr());
        // every other object lives only in the second store: a mount that lost it shows wrong files
        List<Path> objects;
        try (Stream<Path> w = Files.walk(storeA)) {
            objects = w.filter(p -> Files.isRegularFile(p) && p.getParent().getFileName().toString()
                    .matches("[0-9a-f]{2}")).sorted().toList();
        }
        assertTrue(objects.size() >= 2, "the source tree has backed files");
        for (int i = 0; i < objects.size(); i += 2) {
            Path to = storeB.resolve(storeA.relativize(objects.get(i)));
            Files.createDirectories(to.getParent());
            Files.move(objects.get(i), to);
        }
    }

    private Path mountpoint(String name) throws IOException {
        return guard.mountpoint(work, name);
    }

    private static Cli.Result helper(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("mount.composefs"));
        argv.addAll(List.of(args));
        return Cli.run(argv, null, Map.of());
    }

    private static String stores() {
        return "basedir=" + storeA + ":" + storeB;
    }

    // ---- item 2: long layer paths, on every strategy ----

    @Test
    void longStoreUpperAndWorkPathsMountOnEveryStrategy() throws Exception {
        // this kernel through mount.composefs (new API, detached layers)
        Path upper = Files.createDirectories(longDir.resolve("upper-" + "u".repeat(200)));
        Path wk = Files.createDirectories(longDir.resolve("work-" + "w".repeat(200)));
        Path mnt = mountpoint("long-host");
        Cli.Result r = helper("-v", image.toString(), mnt.toString(), "-o", stores() + ",upperdir=" + upper
                + ",workdir=" + wk);
        assertEquals(0, r.exit(), r.stderr());
        assertSameBelowRoot(mnt);
        Files.writeString(mnt.resolve("written"), "w");
        assertTrue(Files.exists(upper.resolve("written")), "writes land in the long upperdir");
        Files.delete(mnt.resolve("written"));
        sys_mount_h.umount2(mnt.toString(), 0);

        // older kernels' strategies: new API with a staged EROFS layer, then the legacy string
        for (String release : List.of("6.8.0", "6.6.0")) {
            Path m = mountpoint("long-" + release);
            List<String> log = new ArrayList<>();
            Path up = Files.createDirectories(longDir.resolve("upper-" + release + "-" + "u".repeat(200)));
            Path wd = Files.createDirectories(longDir.resolve("work-" + release + "-" + "w".repeat(200)));
            new Mounter(KernelProbe.of(release, Set.of("erofs", "overlay")), log::add).mount(image, m,
                    MountOptions.parse(stores() + ",upperdir=" + up + ",workdir=" + wd));
            assertSameBelowRoot(m);
            Files.writeString(m.resolve("written"), release);
            assertEquals(release, Files.readString(up.resolve("written")), "writes land in the upperdir on " + release);
            if (release.equals("6.6.0")) {
                assertTrue(log.stream().anyMatch(l -> l.contains("layers passed as /proc/self/fd/N")),
                        "the legacy string would be over 4095 bytes with the paths: " + log);
            }
            sys_mount_h.umount2(m.toString(), 0);
        }
    }

    /**
     * With an upper layer the overlay's root is the upper directory's root (its mtime and
     * xattrs); every entry below it is the image's. Each top-level entry is compared on its own.
     */
    private static void assertSameBelowRoot(Path mnt) throws Exception {
        try (Stream<Path> top = Files.list(src)) {
            for (Path p : top.toList()) {
                Path q = mnt.resolve(p.getFileName().toString());
                if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    MountTest.assertSameTree(p, q, false, id -> id);
                } else {
                    assertEquals(-1L, Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                            ? Files.mismatch(p, q) : -1L, p + " content");
                    assertEquals(Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime",
                            java.nio.file.LinkOption.NOFOLLOW_LINKS), Files.readAttributes(q,
                            "unix:mode,uid,gid,lastModifiedTime", java.nio.file.LinkOption.NOFOLLOW_LINKS), p.toString());
                }
            }
        }
    }

    @Test
    void anOptionStringThatCannotFitIsRefusedNotCut() throws Exception {
        StringBuilder many = new StringBuilder(stores());
        for (int i = 0; i < 300; i++) {
            many.append(':').append(Files.createDirectories(work.resolve("many/" + i)));
        }
        Path m = mountpoint("too-many");
        MountException e = assertThrows(MountException.class, () -> new Mounter(
                KernelProbe.of("6.6.0", Set.of("erofs", "overlay")), s -> { }).mount(image, m,
                MountOptions.parse(many.toString())));
        assertTrue(e.getMessage().contains("4095"), e.getMessage());
        assertFalse(MountGuard.mounts().stream().anyMatch(x -> x.startsWith(m + " ")), "nothing mounted");
    }

    // ---- item 14: the kernel's own words ----

    /** What overlayfs logs on the fs_context (invalfc) is read back and shown with the errno. */
    @Test
    void theKernelsFsContextMessagesAreRead() throws Exception {
        int fs = MountCalls.NATIVE.fsopen("overlay", sys_mount_h.FSOPEN_CLOEXEC);
        try {
            assertThrows(SyscallException.class, () -> MountCalls.NATIVE.fsconfig(fs, sys_mount_h.FSCONFIG_SET_STRING,
                    "no-such-option", "x", 0));
            String log = MountCalls.NATIVE.log(fs);
            assertEquals("e overlay: Unknown parameter 'no-such-option'", log, "the kernel's message");
            assertEquals("", MountCalls.NATIVE.log(fs), "reading consumes the messages");
        } finally {
            MountCalls.NATIVE.close(fs);
        }
    }

    /** A refusal by the new mount API is the answer: no retry through the legacy option string. */
    @Test
    void aRefusedOverlayIsNotRetriedWithTheLegacyString() throws Exception {
        // a store named twice: overlayfs refuses the conflicting layers at FSCONFIG_CMD_CREATE
        Path m = mountpoint("nested");
        String twice = stores() + ":" + stores().substring("basedir=".length());
        Cli.Result r = helper("-v", image.toString(), m.toString(), "-o", twice);
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("fsconfig(FSCONFIG_CMD_CREATE): ELOOP"), r.stderr());
        assertFalse(r.stderr().contains("legacy"), "no fallback to the legacy string after a real error: " + r.stderr());
    }

    // ---- items 9, 13, 14: files that are not what they claim, and -f ----

    @Test
    void fifosNamespacesAndFakeMounts() throws Exception {
        Path m = mountpoint("fifo");
        Path fifo = work.resolve("image-fifo");
        SourceTree.sh("mkfifo", fifo.toString());
        record Case(List<String> args, int exit, String says) {}
        String store = stores();
        for (Case c : List.of(
                new Case(List.of(fifo.toString(), m.toString(), "-o", store), 32, "FIFO"),
                new Case(List.of(image.toString(), m.toString(), "-o", store + ",idmap=" + fifo), 32, "FIFO"),
                new Case(List.of(image.toString(), m.toString(), "-o", store + ",idmap=/proc/self/ns/net"), 32,
                        "not a user namespace"),
                new Case(List.of(image.toString(), m.toString(), "-o", store + ",uidmap=0:1000:10/5:2000:10"), 32,
                        "uid mapping"),
                // -f checks everything but the mount call itself
                new Case(List.of("-f", image.toString(), work.resolve("no-target").toString(), "-o", store), 32,
                        "no-target"),
                new Case(List.of("-f", image.toString(), m.toString(), "-o", "basedir=" + work.resolve("no-store")), 32,
                        "no-store"),
                new Case(List.of("-f", image.toString(), m.toString(), "-o", store + ",idmap=" + work.resolve("no-ns")),
                        32, "no-ns"),
                new Case(List.of("-f", Files.writeString(work.resolve("not-an-image"), "x".repeat(5000)).toString(),
                        m.toString(), "-o", store), 32, "not a composefs image"),
                new Case(List.of("-f", image.toString(), m.toString(), "-o", store + ",digest=" + "0".repeat(64)), 32,
                        "wrong fs-verity digest"),
                new Case(List.of("-f", fifo.toString(), m.toString(), "-o", store), 32, "FIFO"),
                new Case(List.of("-f", image.toString(), m.toString(), "-o", store), 0, ""))) {
            long t0 = System.nanoTime();
            Cli.Result r = helper(c.args().toArray(String[]::new));
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "no hang: " + c);
            assertEquals(c.exit(), r.exit(), c + ": " + r.stderr());
            assertTrue(r.stderr().contains(c.says()), c + ": " + r.stderr());
            assertFalse(r.stderr().contains("Exception"), r.stderr());
        }
        assertFalse(MountGuard.mounts().stream().anyMatch(x -> x.startsWith(m + " ")), "-f mounted nothing");
    }

    // ---- items 5, 10: digest= and tryverity on huge images ----

    @Test
    void hugeImagesAreRefusedBeforeAnythingIsCopiedAndHolesStayHoles() throws Exception {
        Path huge = work.resolve("huge.cfs");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(3L << 30); // sparse: no blocks on disk
        }
        Path m = mountpoint("huge");
        for (String opt : List.of(",digest=" + "0".repeat(64), ",tryverity")) {
            long t0 = System.nanoTime();
            Cli.Result r = helper(huge.toString(), m.toString(), "-o", stores() + opt);
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "refused at once: " + opt);
            assertEquals(32, r.exit(), opt + ": " + r.stderr());
            assertTrue(r.stderr().contains("too large"), opt + ": " + r.stderr());
            assertFalse(r.stderr().contains("Exception") || r.stderr().contains("OutOfMemory"), r.stderr());
        }
        Files.delete(huge);

        // an image followed by a 256 MiB hole: digest= copies the data only, the hole stays a hole
        Path padded = work.resolve("padded.cfs");
        Files.copy(image, padded);
        try (RandomAccessFile f = new RandomAccessFile(padded.toFile(), "rw")) {
            f.setLength(Files.size(image) + (256L << 20));
        }
        String digest = SourceTree.sh("fsverity", "digest", "--compact", padded.toString()).trim();
        long shmemBefore = meminfo("Shmem:");
        Cli.Result r = helper(padded.toString(), m.toString(), "-o", stores() + ",digest=" + digest + ",tryverity");
        assertEquals(0, r.exit(), r.stderr());
        long grew = meminfo("Shmem:") - shmemBefore;
        assertTrue(grew < 64L << 20, "the sealed copy holds the data, not the hole: shmem grew " + (grew >> 20) + " MiB");
        MountTest.assertSameTree(src, m, true, id -> id);
        sys_mount_h.umount2(m.toString(), 0);
    }

    private static long meminfo(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        }
        throw new IOException("no " + key + " in /proc/meminfo");
    }

    // ---- item 8: a killed mount ----

    /** A staging mount left by a killed mount on a kernel before 6.15 is removed by the next one. */
    @Test
    void aKilledMountsStagingMountIsRemovedByTheNextMount() throws Exception {
        Process gone = new ProcessBuilder("/bin/true").start();
        gone.waitFor();
        Path leftover = Files.createDirectories(Staging.parent().resolve(".composefs-" + gone.pid() + "-leftover"));
        SourceTree.sh("mount", "-t", "tmpfs", "leftover", leftover.toString());
        Path m = mountpoint("after-leftover");
        List<String> log = new ArrayList<>();
        try {
            new Mounter(KernelProbe.of("6.8.0", Set.of("erofs", "overlay")), log::add).mount(image, m,
                    MountOptions.parse(stores()));
            assertTrue(log.stream().anyMatch(l -> l.contains("removed the staging mount " + leftover)), log.toString());
            assertFalse(Files.exists(leftover), "the leftover directory is gone");
            sys_mount_h.umount2(m.toString(), 0);
        } finally {
            if (Files.exists(leftover)) {
                new ProcessBuilder("umount", "-l", leftover.toString()).start().waitFor();
                Files.deleteIfExists(leftover);
            }
        }
    }

    /** The process holding a uidmap= namespace ends with the mount helper, also under kill -9. */
    @Test
    void theUidmapNamespaceHolderDiesWithAKilledHelper() throws Exception {
        Path m = mountpoint("uidmap-kill");
        for (int attempt = 0; attempt < 30; attempt++) {
            Process p = new ProcessBuilder(Cli.repo().resolve("bin/mount.composefs").toString(), image.toString(),
                    m.toString(), "-o", stores() + ",uidmap=0:100000:65536").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Optional<ProcessHandle> holder = Optional.empty();
            while (p.isAlive() && holder.isEmpty()) {
                holder = p.toHandle().children().findFirst();
            }
            if (holder.isPresent()) {
                // freeze the helper with its namespace holder alive, then kill it outright
                SourceTree.sh("kill", "-STOP", Long.toString(p.pid()));
                SourceTree.sh("kill", "-KILL", Long.toString(p.pid()));
                p.waitFor();
                ProcessHandle h = holder.get();
                h.onExit().get(10, TimeUnit.SECONDS);
                assertFalse(h.isAlive(), "the namespace holder ended with its parent");
                new ProcessBuilder("umount", m.toString()).start().waitFor(); // in case the mount had completed
                return;
            }
            p.waitFor();
            new ProcessBuilder("umount", m.toString()).start().waitFor();
        }
        throw new AssertionError("never caught the helper while its namespace holder ran (30 tries)");
    }

    // ---- item 16: a ':' inside a store path ----

    @Test
    void aColonInAStorePathIsWrittenEscaped() throws Exception {
        Path colon = work.resolve("sto:re");
        SourceTree.sh("cp", "-a", storeA.toString(), colon.toString());
        SourceTree.sh("sh", "-c", "cp -a " + storeB + "/. " + colon + "/");
        Path m = mountpoint("colon");
        Cli.Result r = helper(image.toString(), m.toString(), "-o", "basedir=" + colon.toString().replace(":", "\\:"));
        assertEquals(0, r.exit(), r.stderr());
        MountTest.assertSameTree(src, m, true, id -> id);
        sys_mount_h.umount2(m.toString(), 0);
    }
}
