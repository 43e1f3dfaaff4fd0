package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.composefs.core.fuse.FuseService;
import dev.composefs.core.mount.MountOptions;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * composefs-fuse against the kernel: the same image mounted both ways must show the same tree
 * (it-tests/lib/tree-listing.sh: entries, modes, owners, sizes, times, device numbers, symlink
 * targets, xattrs, contents, which names share an inode) for the edge-case tree with a large
 * directory and deep nesting, and for a Debian 13 root. Then a user who is not root mounts
 * through fusermount3, and the server's life: umount, fusermount3 -u, SIGTERM and SIGKILL end
 * it as they should, verity refuses a changed object with EIO and one line, digest= refuses a
 * wrong image, and hundreds of mount cycles in one process leak neither threads nor descriptors.
 */
class FuseTest {
    private static final int NOBODY = 65534;
    private static Path work;
    private static Path store;
    private static Path image;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void buildImage() throws Exception {
        MountGuard.assumeMountable();
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "this kernel has no /dev/fuse");
        // a directory every user may traverse: the rootless test reads the image and store
        work = Files.createTempDirectory(Path.of("/var/tmp"), "composefs-fuse");
        SourceTree.sh("chmod", "755", work.toString());
        Path src = work.resolve("src");
        SourceTree.build(src);
        Files.delete(src.resolve("dev/whiteout")); // hidden by both mounts alike: see MountTest
        Path big = Files.createDirectory(src.resolve("big"));
        for (int i = 0; i < 12000; i++) {
            Files.writeString(big.resolve(String.format("entry-%05d", i)), i % 7 == 0 ? "" : "content " + (i % 50));
        }
        Path deep = src;
        for (int i = 0; i < 300; i++) {
            deep = deep.resolve("d" + (i % 10));
        }
        Files.createDirectories(deep);
        Files.writeString(deep.resolve("bottom"), "deep");
        store = work.resolve("store");
        image = work.resolve("tree.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--hardlinks", "--digest-store=" + store, src.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        SourceTree.sh("chmod", "-R", "a+rX", store.toString());
    }

    @AfterAll
    static void remove() throws Exception {
        if (work != null) {
            new ProcessBuilder("rm", "-rf", "--one-file-system", work.toString()).inheritIO().start().waitFor();
        }
    }

    @Test
    void theFuseMountShowsWhatTheKernelMountShows() throws Exception {
        compareWithKernel(image, store, "tree");
    }

    @Test
    void aDebianRootThroughFuseIsTheKernelMountOfIt() throws Exception {
        try (TrixieRoot trixie = TrixieRoot.create()) {
            Path debStore = work.resolve("debian-store");
            Path debImage = work.resolve("debian.cfs");
            Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + debStore, trixie.root.toString(), debImage.toString());
            assertEquals(0, r.exit(), r.stderr());
            compareWithKernel(debImage, debStore, "debian");
        }
    }

    /** Mounts image both ways and compares their listings; the FUSE mount in the background form. */
    private void compareWithKernel(Path img, Path objects, String name) throws Exception {
        Path kernel = guard.mountpoint(work, name + "-kernel");
        Path fuse = guard.mountpoint(work, name + "-fuse");
        Cli.Result k = Cli.run("mount.composefs", img.toString(), kernel.toString(), "-o", "basedir=" + objects);
        assertEquals(0, k.exit(), k.stderr());
        Cli.Result f = Cli.run("composefs-fuse", "-o", "source=" + img + ",basedir=" + objects, fuse.toString());
        assertEquals(0, f.exit(), f.stderr());
        assertTrue(mountinfo(fuse).contains(" - fuse.composefs "), mountinfo(fuse));
        long server = serverOf(fuse);
        try {
            List<String> expected = listing(kernel, null);
            assertListingsEqual(expected, listing(fuse, null));
            System.out.println("fuse: " + name + ": " + expected.size() + " records of the kernel mount's listing,"
                    + " the same through FUSE");
        } finally {
            SourceTree.sh("umount", kernel.toString());
            SourceTree.sh("umount", fuse.toString());
        }
        assertTrue(ended(server), "the server ends when its mount is unmounted");
    }

    /**
     * Upstream's own tests/test-random-fuse.sh, unchanged, with this project's binaries: ten random
     * trees (upstream's gendir) through mkcomposefs, composefs-dump, composefs-info dump |
     * mkcomposefs --from-file and composefs-fuse, each mount's dumpdir equal to the source's.
     */
    @Test
    void upstreamsRandomFuseTestPassesWithTheseBinaries() throws Exception {
        Path dir = Cli.repo().resolve("it-tests/target/upstream");
        Cli.Result fetch = Cli.run(List.of(Cli.repo().resolve("it-tests/lib/upstream-tests.sh").toString(), dir.toString()),
                null, Map.of());
        Infra.require(fetch.exit() == 0, "upstream's test scripts from Debian's archive: " + fetch.stderr());
        Cli.Result r = Cli.run(List.of("/bin/bash", dir.resolve("tests/test-random-fuse.sh").toString(),
                Cli.repo().resolve("bin").toString()), null, Map.of("has_fuse", "y"));
        String out = r.out();
        assertEquals(0, r.exit(), out + r.stderr());
        assertEquals(10, out.lines().filter(l -> l.equals("Mounting composefs image using fuse")).count(), out);
    }

    /** A user who is not root mounts the image through fusermount3, reads it, and unmounts. */
    @Test
    void aUserWhoIsNotRootMountsThroughFusermount() throws Exception {
        Infra.require(Files.isExecutable(Path.of("/usr/bin/fusermount3")), "needs fusermount3 (bin/lib/install-deps.sh installs fuse3)");
        Path kernel = guard.mountpoint(work, "user-kernel");
        Path fuse = guard.mountpoint(work, "user-fuse");
        SourceTree.sh("chown", NOBODY + ":" + NOBODY, fuse.toString());
        Cli.Result k = Cli.run("mount.composefs", image.toString(), kernel.toString(), "-o", "basedir=" + store);
        assertEquals(0, k.exit(), k.stderr());
        String mode = SourceTree.sh("stat", "-c", "%a", "/dev/fuse").trim();
        try {
            SourceTree.sh("chmod", "0666", "/dev/fuse"); // as distributions have it
            Cli.Result f = asNobody(List.of(Cli.repo().resolve("bin/composefs-fuse").toString(), "-o",
                    "source=" + image + ",basedir=" + store, fuse.toString()));
            assertEquals(0, f.exit(), f.stderr());
            String info = mountinfo(fuse);
            assertTrue(info.contains("user_id=" + NOBODY) && info.contains(" ro,"), info);
            assertFalse(info.contains("allow_other"), "a user's mount admits no one else unless asked: " + info);
            long server = serverOf(fuse);
            // what that user sees through FUSE is what the same user sees of the kernel mount
            assertListingsEqual(listing(kernel, NOBODY), listing(fuse, NOBODY));
            Cli.Result u = asNobody(List.of("/usr/bin/fusermount3", "-u", fuse.toString()));
            assertEquals(0, u.exit(), u.stderr());
            assertTrue(ended(server), "fusermount3 -u ends the server");
        } finally {
            SourceTree.sh("chmod", mode, "/dev/fuse");
            SourceTree.sh("umount", kernel.toString());
        }
    }

    /** mount.composefs -o fuse as root; and, run by a user without CAP_SYS_ADMIN, FUSE by itself (-v says so). */
    @Test
    void mountComposefsServesThroughFuseWhenAskedOrWithoutCapSysAdmin() throws Exception {
        Path mnt = guard.mountpoint(work, "helper");
        Cli.Result r = Cli.run("mount.composefs", "-v", image.toString(), mnt.toString(), "-o", "basedir=" + store + ",fuse");
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("mount.composefs: fuse: serving through FUSE (composefs-fuse)\n", r.stderr());
        assertTrue(mountinfo(mnt).contains(" - fuse.composefs composefs ro,"), mountinfo(mnt));
        assertEquals("attributes", Files.readString(mnt.resolve("xattrs")));
        SourceTree.sh("umount", mnt.toString());
        Infra.require(Files.isExecutable(Path.of("/usr/bin/fusermount3")), "needs fusermount3 (bin/lib/install-deps.sh installs fuse3)");
        Path userMnt = guard.mountpoint(work, "helper-user");
        SourceTree.sh("chown", NOBODY + ":" + NOBODY, userMnt.toString());
        String mode = SourceTree.sh("stat", "-c", "%a", "/dev/fuse").trim();
        try {
            SourceTree.sh("chmod", "0666", "/dev/fuse");
            Cli.Result u = asNobody(List.of(Cli.repo().resolve("bin/mount.composefs").toString(), "-v", image.toString(),
                    userMnt.toString(), "-o", "basedir=" + store));
            assertEquals(0, u.exit(), u.stderr());
            assertEquals("mount.composefs: no CAP_SYS_ADMIN: serving through FUSE (composefs-fuse) as this user\n", u.stderr());
            Cli.Result cat = asNobody(List.of("/bin/cat", userMnt.resolve("-").toString()));
            assertEquals("dash", cat.out());
            assertEquals(0, asNobody(List.of("/usr/bin/fusermount3", "-u", userMnt.toString())).exit());
        } finally {
            SourceTree.sh("chmod", mode, "/dev/fuse");
        }
    }

    @Test
    void sigtermAndSigintUnmountAndEndTheServerAndAKilledOneLeavesAMountUmountClears() throws Exception {
        Path mnt = guard.mountpoint(work, "life");
        for (String signal : List.of("TERM", "INT")) {
            Cli.Result f = Cli.run("composefs-fuse", "-o", "source=" + image + ",basedir=" + store, mnt.toString());
            assertEquals(0, f.exit(), f.stderr());
            long server = serverOf(mnt);
            SourceTree.sh("kill", "-" + signal, Long.toString(server));
            assertTrue(ended(server), "SIG" + signal + " ends the server");
            assertFalse(MountGuard.mounted(mnt), "SIG" + signal + " unmounts first");
        }
        Process fg = new ProcessBuilder(Cli.repo().resolve("bin/composefs-fuse").toString(), "-f", "-o",
                "source=" + image + ",basedir=" + store, mnt.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        for (int i = 0; i < 200 && !MountGuard.mounted(mnt); i++) {
            Thread.sleep(50);
        }
        assertTrue(MountGuard.mounted(mnt), "-f mounts and serves in the foreground");
        assertTrue(fg.isAlive());
        assertEquals("longest name", Files.readString(mnt.resolve("n".repeat(255))));
        fg.destroyForcibly();
        assertTrue(fg.waitFor(10, TimeUnit.SECONDS));
        Cli.Result ls = Cli.run(List.of("/bin/ls", mnt.toString()), null, Map.of());
        assertTrue(ls.stderr().contains("Transport endpoint is not connected"), ls.stderr());
        SourceTree.sh("umount", mnt.toString());
        assertFalse(MountGuard.mounted(mnt), "umount clears what a killed server left");
    }

    @Test
    void verityRefusesAChangedObjectWithEioAndOneLineAndServesTheRest() throws Exception {
        Path own = work.resolve("verity-store");
        SourceTree.sh("cp", "-a", store.toString(), own.toString());
        Path victim;
        try (var s = Files.walk(own)) {
            victim = s.filter(p -> Files.isRegularFile(p) && p.toFile().length() == 100_000).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(victim);
        bytes[4321] ^= 1;
        SourceTree.sh("chmod", "u+w", victim.toString());
        Files.write(victim, bytes);
        Path mnt = guard.mountpoint(work, "verity");
        Path log = work.resolve("verity.log");
        Process fg = new ProcessBuilder(Cli.repo().resolve("bin/composefs-fuse").toString(), "-f", "-o",
                "source=" + image + ",basedir=" + own + ",verity", mnt.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            for (int i = 0; i < 200 && !MountGuard.mounted(mnt); i++) {
                Thread.sleep(50);
            }
            for (int i = 0; i < 2; i++) {
                Cli.Result cat = Cli.run(List.of("/bin/cat", mnt.resolve("sizes/f100000").toString()), null, Map.of());
                assertTrue(cat.stderr().contains("Input/output error"), cat.stderr());
            }
            assertEquals(Files.readString(mnt.resolve("links/a")).length(), 5000, "other files are served");
            Cli.Result ok = Cli.run(List.of("/usr/bin/cmp", mnt.resolve("sizes/f1048577").toString(),
                    work.resolve("src/sizes/f1048577").toString()), null, Map.of());
            assertEquals(0, ok.exit(), ok.stderr() + ok.out());
        } finally {
            SourceTree.sh("umount", mnt.toString());
            assertTrue(fg.waitFor(10, TimeUnit.SECONDS));
        }
        List<String> lines = Files.readAllLines(log);
        assertEquals(1, lines.stream().filter(l -> l.contains("fs-verity digest")).count(), String.join("\n", lines));
        assertTrue(lines.get(0).matches("composefs-fuse: object ../[0-9a-f]{62}: fs-verity digest [0-9a-f]{64} \\(from its content\\) "
                + "is not the image's [0-9a-f]{64}: reads of it fail with EIO"), lines.get(0));
    }

    @Test
    void digestIsCheckedBeforeAnythingIsMounted() throws Exception {
        Path mnt = guard.mountpoint(work, "digest");
        String right = SourceTree.sh("fsverity", "digest", "--compact", image.toString()).trim();
        String wrong = (right.charAt(0) == '0' ? "1" : "0") + right.substring(1);
        Cli.Result bad = Cli.run("composefs-fuse", "-o", "source=" + image + ",basedir=" + store + ",digest=" + wrong,
                mnt.toString());
        assertEquals(32, bad.exit());
        assertEquals("composefs-fuse: " + image + ": fs-verity digest " + right + " is not digest=" + wrong
                + "; nothing was mounted\n", bad.stderr());
        assertFalse(MountGuard.mounted(mnt));
        Cli.Result good = Cli.run("composefs-fuse", "-o", "source=" + image + ",basedir=" + store + ",digest=" + right
                + ",tryverity", mnt.toString());
        assertEquals(0, good.exit(), good.stderr());
        SourceTree.sh("umount", mnt.toString());
        Cli.Result usage = Cli.run("composefs-fuse", "-o", "basedir=" + store, mnt.toString());
        assertEquals(1, usage.exit());
        assertEquals("composefs-fuse: no image given: source=IMAGE is required\n", usage.stderr());
    }

    /** In this JVM: mount, read, unmount, hundreds of times; threads and descriptors as before. */
    @Test
    void hundredsOfMountCyclesLeakNeitherThreadsNorDescriptors() throws Exception {
        Path mnt = guard.mountpoint(work, "cycles");
        FuseService.Options o = FuseService.Options.of(image, MountOptions.parse("basedir=" + store + ",allow_other"));
        PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        int threadsBefore = 0;
        int fdsBefore = 0;
        for (int cycle = 0; cycle < 300; cycle++) {
            if (cycle == 20) { // after the first cycles have loaded what the rest reuse
                threadsBefore = Thread.activeCount();
                fdsBefore = fds();
            }
            FuseService service = FuseService.start(o, mnt, log);
            Thread serving = new Thread(() -> {
                try {
                    service.serve();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            serving.start();
            assertEquals("dash", Files.readString(mnt.resolve("-")));
            assertEquals(1 << 20 | 1, Files.size(mnt.resolve("sizes/f1048577")));
            service.stop();
            serving.join(10_000);
            assertFalse(serving.isAlive(), "cycle " + cycle + ": serve() returns once unmounted");
        }
        assertEquals(threadsBefore, Thread.activeCount(), "threads");
        assertEquals(fdsBefore, fds(), "open descriptors");
    }

    private static int fds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    private static Cli.Result asNobody(List<String> cmd) throws Exception {
        List<String> full = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups", "--"));
        full.addAll(cmd);
        return Cli.run(full, null, Map.of());
    }

    private static String mountinfo(Path mnt) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().filter(l -> l.split(" ")[4].equals(mnt.toString()))
                .findFirst().orElse("(not mounted)");
    }

    /** The pid of the server of mnt: the process whose command line names it, with -f. */
    private static long serverOf(Path mnt) {
        return ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(a -> List.of(a).contains(mnt.toString())
                && List.of(a).contains("-f")).orElse(false)).mapToLong(ProcessHandle::pid).findFirst()
                .orElseThrow(() -> new AssertionError("no server process for " + mnt));
    }

    private static boolean ended(long pid) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    /** tree-listing.sh's records of dir, run as root or as uid. */
    private static List<String> listing(Path dir, Integer uid) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (uid != null) {
            cmd.addAll(List.of("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--"));
        }
        cmd.addAll(List.of(Cli.repo().resolve("it-tests/lib/tree-listing.sh").toString(), dir.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT)
                .redirectInput(new File("/dev/null")).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(600, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "tree-listing.sh " + dir);
        List<String> records = new ArrayList<>(List.of(new String(out, StandardCharsets.ISO_8859_1).split("\0")));
        // inode numbers differ between mounts: what is compared is which names share one
        int at = records.indexOf("== inodes");
        Map<String, Set<String>> groups = new TreeMap<>();
        for (String r : records.subList(at + 1, records.size())) {
            int sp = r.indexOf(' ');
            groups.computeIfAbsent(r.substring(0, sp), k -> new TreeSet<>()).add(r.substring(sp + 1));
        }
        List<String> result = new ArrayList<>(records.subList(0, at + 1));
        groups.values().stream().map(String::valueOf).sorted().forEach(result::add);
        return result;
    }

    private static void assertListingsEqual(List<String> kernel, List<String> fuse) {
        assertTrue(kernel.size() > 10, "a listing of " + kernel.size() + " records");
        if (!kernel.equals(fuse)) {
            List<String> onlyKernel = new ArrayList<>(kernel);
            onlyKernel.removeAll(fuse);
            List<String> onlyFuse = new ArrayList<>(fuse);
            onlyFuse.removeAll(kernel);
            throw new AssertionError("the FUSE mount differs from the kernel mount:\nkernel only: "
                    + onlyKernel.subList(0, Math.min(10, onlyKernel.size())) + "\nFUSE only: "
                    + onlyFuse.subList(0, Math.min(10, onlyFuse.size())));
        }
    }
}
