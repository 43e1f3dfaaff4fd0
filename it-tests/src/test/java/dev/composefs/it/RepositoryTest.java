package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * composefs repo: a repository of named images in composefs-rs's layout, whose gc's roots are the
 * names. Ingests, names, gc, fsck and mounts through the commands as a user runs them.
 */
class RepositoryTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    /** A tree with shared (the same in every tree made with this seed of 'shared') and own files. */
    private Path tree(String name, int shared, int own) throws Exception {
        Path t = Files.createDirectories(tmp.resolve("src").resolve(name));
        Files.createDirectories(t.resolve("usr/share"));
        for (int i = 0; i < shared; i++) {
            Files.writeString(t.resolve("usr/share/common-" + i), ("shared file " + i + " ").repeat(20 + i));
        }
        for (int i = 0; i < own; i++) {
            Files.writeString(t.resolve("own-" + i), (name + " only " + i + " ").repeat(20 + i));
        }
        return t;
    }

    private static Cli.Result ok(String... argv) throws Exception {
        Cli.Result r = Cli.run(argv);
        assertEquals(0, r.exit(), String.join(" ", argv) + ": " + r.stderr());
        return r;
    }

    private static Set<String> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return new TreeSet<>(s.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).toList());
        }
    }

    private static String lastLine(Cli.Result r) {
        List<String> lines = r.out().lines().toList();
        return lines.get(lines.size() - 1);
    }

    @Test
    void twoImagesSharingFilesUntagOneAndGcKeepsTheOther() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(repo)), "a private repository");
        assertEquals(Map.of("version", 1, "algorithm", "fsverity-sha256-12"),
                JSON.std.mapFrom(Files.readString(repo.resolve("meta.json"))));
        Path a = tree("a", 30, 5);
        Path b = tree("b", 30, 7);
        String da = lastLine(ok("composefs", "repo", "add", repo.toString(), "system/a", a.toString()));
        String db = lastLine(ok("composefs", "repo", "add", repo.toString(), "b", b.toString()));
        // the digest is the image's: mkcomposefs of the same tree gives it too
        assertEquals(ok("mkcomposefs", "--print-digest-only", a.toString()).out().strip(), da);
        assertEquals("b " + db + "\nsystem/a " + da + "\n", ok("composefs", "repo", "list", repo.toString()).out());
        assertEquals("../../../images/" + da, Files.readSymbolicLink(repo.resolve("images/refs/system/a")).toString());
        assertEquals("../objects/" + da.substring(0, 2) + "/" + da.substring(2),
                Files.readSymbolicLink(repo.resolve("images/" + da)).toString());
        long before;
        try (Stream<Path> s = Files.walk(repo.resolve("objects"))) {
            before = s.filter(Files::isRegularFile).count();
        }
        assertEquals(30 + 5 + 7 + 2, before, "shared files once, each tree's own, the two images");

        ok("composefs", "repo", "tag", repo.toString(), db, "b-again");
        ok("composefs", "repo", "untag", repo.toString(), "b");
        Cli.Result kept = ok("composefs", "repo", "gc", repo.toString()); // b has another name: nothing goes
        assertEquals("removed 0 images, 0 objects (0 B freed); " + before + " objects kept\n", kept.out());
        ok("composefs", "repo", "untag", repo.toString(), "system/a");
        assertFalse(Files.exists(repo.resolve("images/refs/system")), "the empty directory of names goes with its last");
        Cli.Result gc = ok("composefs", "repo", "gc", repo.toString());
        assertTrue(gc.out().contains("removed 1 images, 6 objects"), "a's image and its 5 own files: " + gc.out());
        assertFalse(Files.exists(repo.resolve("images/" + da)));
        assertFalse(Files.exists(repo.resolve("objects/" + da.substring(0, 2) + "/" + da.substring(2))));
        assertEquals("b-again " + db + "\n", ok("composefs", "repo", "list", repo.toString()).out());
        assertEquals("{\"objects\":" + (before - 6) + ",", ok("composefs", "repo", "fsck", "--json", repo.toString())
                .out().substring(0, ("{\"objects\":" + (before - 6) + ",").length()));

        MountGuard.assumeMountable();
        Path byName = guard.mountpoint(tmp, "by-name");
        ok("composefs", "repo", "mount", repo.toString(), "b-again", byName.toString());
        assertEquals(files(b), files(byName));
        assertEquals(Files.readString(b.resolve("own-6")), Files.readString(byName.resolve("own-6")));
        assertEquals(0, Cli.run("/bin/umount", byName.toString()).exit());
        // by digest, the digest is enforced: mountinfo's overlay carries it as a verity-checked image
        Path byDigest = guard.mountpoint(tmp, "by-digest");
        ok("composefs", "repo", "mount", repo.toString(), db, byDigest.toString(), "-o", "tryverity");
        assertEquals(files(b), files(byDigest));
        assertEquals(0, Cli.run("/bin/umount", byDigest.toString()).exit());
        // and as a plain mount.composefs of the name's link
        Path plain = guard.mountpoint(tmp, "plain");
        ok("mount.composefs", repo.resolve("images/refs/b-again").toString(), plain.toString(), "-o",
                "basedir=" + repo.resolve("objects"));
        assertEquals(files(b), files(plain));
        assertEquals(0, Cli.run("/bin/umount", plain.toString()).exit());
    }

    /**
     * gc in a loop while six ingests and a pull from a registry on 127.0.0.1 run: every name set
     * afterwards is intact (fsck clean, its image's objects all there) and mounts.
     */
    @Test
    void gcInALoopWhileWritersRunLosesNothingANameReaches() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        List<Path> trees = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            trees.add(tree("w" + i, 40, 20 + i));
        }
        boolean oci = "root".equals(System.getProperty("user.name"));
        for (String tool : List.of("umoci", "skopeo", "docker-registry")) {
            oci = oci && Cli.run("/usr/bin/env", "which", tool).exit() == 0;
        }
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(oci, "CI: root, umoci, skopeo and docker-registry are needed (bin/test installs them)");
        }
        Path layout = tmp.resolve("layout");
        Registry registry = null;
        String ref = null;
        if (oci) {
            assertEquals(0, Cli.run(List.of("/bin/bash", Cli.repo().resolve("it-tests/oci/build-layout.sh").toString(),
                    layout.toString()), null, Map.of()).exit());
            registry = Registry.start(tmp.resolve("registry"), null);
            registry.push(layout, "app", "test/app:1");
            ref = "127.0.0.1:" + registry.port + "/test/app:1";
        }
        try {
            gcWhileWriting(repo, trees, oci, ref);
        } finally {
            if (registry != null) {
                registry.close();
            }
        }
    }

    private void gcWhileWriting(Path repo, List<Path> trees, boolean oci, String ref) throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger gcs = new AtomicInteger();
        List<String> gcFailures = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread gc = new Thread(() -> {
            while (writing.get()) {
                try {
                    Cli.Result r = Cli.run("composefs", "repo", "gc", repo.toString());
                    if (r.exit() != 0) {
                        gcFailures.add(r.stderr());
                    }
                    gcs.incrementAndGet();
                } catch (Exception e) {
                    gcFailures.add(e.toString());
                }
            }
        });
        gc.start();
        List<Thread> writers = new ArrayList<>();
        List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int i = 0; i < trees.size() + (oci ? 1 : 0); i++) {
            int n = i;
            Thread w = new Thread(() -> {
                try {
                    Cli.Result r = n < trees.size()
                            ? Cli.run("composefs", "repo", "add", repo.toString(), "w/" + n, trees.get(n).toString())
                            : Cli.run("composefs", "oci", "pull", "--insecure", "--repo=" + repo, ref);
                    if (r.exit() != 0) {
                        failures.add(n + ": " + r.stderr());
                    }
                } catch (Exception e) {
                    failures.add(n + ": " + e);
                }
            });
            w.start();
            writers.add(w);
        }
        for (Thread w : writers) {
            w.join();
        }
        writing.set(false);
        gc.join();
        assertEquals(List.of(), failures);
        assertEquals(List.of(), gcFailures);
        assertTrue(gcs.get() >= 1, "gc ran");
        ok("composefs", "repo", "gc", repo.toString()); // once more, after every writer
        Cli.Result fsck = ok("composefs", "repo", "fsck", "--json", repo.toString());
        Map<String, Object> doc = JSON.std.mapFrom(fsck.out());
        assertEquals(true, doc.get("ok"), fsck.out());
        List<String> names = ok("composefs", "repo", "list", repo.toString()).out().lines().map(l -> l.split(" ")[0]).toList();
        List<String> expected = new ArrayList<>(List.of("w/0", "w/1", "w/2", "w/3", "w/4", "w/5"));
        if (oci) {
            expected.add(0, ref); // a pull's name is its reference by default
        }
        assertEquals(expected, names);
        MountGuard.assumeMountable();
        for (int i = 0; i < trees.size(); i++) {
            Path m = guard.mountpoint(tmp, "m" + i);
            ok("composefs", "repo", "mount", repo.toString(), "w/" + i, m.toString());
            assertEquals(files(trees.get(i)), files(m));
            assertEquals(0, Cli.run("/bin/umount", m.toString()).exit());
        }
        if (oci) {
            Path m = guard.mountpoint(tmp, "oci");
            ok("composefs", "repo", "mount", repo.toString(), ref, m.toString());
            assertTrue(Files.isDirectory(m.resolve("etc")), "the container image's tree");
            assertEquals(0, Cli.run("/bin/umount", m.toString()).exit());
        }
    }

    /**
     * A writer killed mid-ingest leaves only temporary files: fsck finds no damage, the next gc
     * removes them, and the names set before are untouched.
     */
    @Test
    void aKilledWriterLeavesNothingFsckCallsDamage() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        String kept = lastLine(ok("composefs", "repo", "add", repo.toString(), "kept", tree("kept", 5, 5).toString()));
        Path big = Files.createDirectories(tmp.resolve("src/big"));
        byte[] block = new byte[20000];
        for (int i = 0; i < 8000; i++) {
            Path d = Files.createDirectories(big.resolve("d" + (i % 80)));
            block[0] = (byte) i;
            block[1] = (byte) (i >> 8);
            Files.write(d.resolve("f" + i), block);
        }
        Process p = new ProcessBuilder(Cli.repo().resolve("bin/composefs").toString(), "repo", "add", repo.toString(),
                "killed", big.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long temps = 0;
        for (int i = 0; i < 1200 && p.isAlive() && temps < 500; i++) {
            Thread.sleep(10);
            try (Stream<Path> s = Files.walk(repo.resolve("objects"))) {
                temps = s.filter(f -> f.getFileName().toString().startsWith(".tmp-")).count();
            } catch (java.io.UncheckedIOException e) {
                // a directory renamed or removed while walked: look again
            }
        }
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        assertTrue(temps > 0, "killed while it was writing objects");
        assertEquals("kept " + kept + "\n", ok("composefs", "repo", "list", repo.toString()).out(), "no name for the killed one");
        Map<String, Object> doc = JSON.std.mapFrom(ok("composefs", "repo", "fsck", "--json", repo.toString()).out());
        assertEquals(true, doc.get("ok"), doc.toString());
        ok("composefs", "repo", "gc", repo.toString());
        try (Stream<Path> s = Files.walk(repo)) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith(".tmp-")).toList(), "gc removes them");
        }
        assertEquals(true, JSON.std.mapFrom(ok("composefs", "repo", "fsck", "--json", repo.toString()).out()).get("ok"));
    }

    @Test
    void aDamagedObjectIsFoundByFsckJson() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        Path a = tree("a", 3, 2);
        String da = lastLine(ok("composefs", "repo", "add", repo.toString(), "a", a.toString()));
        String own = ok("composefs-info", "objects", repo.resolve("images/" + da).toString()).out().lines().toList().get(0);
        Path object = repo.resolve("objects").resolve(own);
        Files.writeString(object, "damaged");
        Path missing = repo.resolve("objects").resolve(ok("composefs-info", "objects", repo.resolve("images/" + da).toString())
                .out().lines().toList().get(1));
        Files.delete(missing);
        Files.createSymbolicLink(repo.resolve("images/refs/nowhere"), Path.of("../../images/" + "00".repeat(32)));
        Cli.Result r = Cli.run("composefs", "repo", "fsck", "--json", repo.toString());
        assertEquals(1, r.exit(), r.stderr());
        Map<String, Object> doc = JSON.std.mapFrom(r.out());
        assertEquals(false, doc.get("ok"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> problems = (List<Map<String, Object>>) doc.get("problems");
        Set<String> kinds = new TreeSet<>();
        for (Map<String, Object> p : problems) {
            kinds.add(p.get("kind") + " " + p.get("path"));
        }
        assertEquals(new TreeSet<>(Set.of("object " + own, "missing-object images/" + da, "dangling images/refs/nowhere")),
                kinds, r.out());
        assertEquals(1, r.out().lines().count(), "one JSON document");
    }

    /** A repository of a newer format, or with a feature this version does not know, is not changed. */
    @Test
    void aNewerOrUnknownRepositoryIsRefusedWithNothingWritten() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        Path a = tree("a", 3, 2);
        Path meta = repo.resolve("meta.json");
        String[][] cases = {
            {"{\"version\": 2, \"algorithm\": \"fsverity-sha256-12\"}", "repository format version 2; this composefs-java "
                + "knows version 1 and changes nothing in a newer one"},
            {"{\"version\": 1, \"algorithm\": \"fsverity-sha256-12\", \"features\": {\"incompatible\": [\"zstd\"]}}",
                "incompatible feature zstd is unknown to this composefs-java"},
            {"{\"version\": 1, \"algorithm\": \"fsverity-sha256-12\", \"features\": {\"read-only-compatible\": [\"x\"]}}",
                "read-only-compatible feature x is unknown to this composefs-java: it may read this repository, not change it"},
            {"{\"version\": 1, \"algorithm\": \"fsverity-sha512-12\"}", "objects named by fsverity-sha512-12 digests; "
                + "composefs-java names them by fsverity-sha256-12 (upstream's and the kernel's overlay verity=)"},
        };
        for (String[] c : cases) {
            Files.writeString(meta, c[0]);
            Set<String> before = files(repo);
            Cli.Result r = Cli.run("composefs", "repo", "add", repo.toString(), "a", a.toString());
            assertEquals(1, r.exit(), c[0]);
            assertEquals("composefs repo add: " + meta + ": " + c[1] + "\n", r.stderr());
            assertEquals(before, files(repo), "nothing written: " + c[0]);
        }
        // read-only-compatible: reading is fine
        Files.writeString(meta, cases[2][0]);
        assertEquals("", ok("composefs", "repo", "list", repo.toString()).out());
        Cli.Result notOne = Cli.run("composefs", "repo", "list", tmp.toString());
        assertEquals(1, notOne.exit());
        assertEquals("composefs repo list: " + tmp + ": not a repository (no meta.json); make one with composefs repo init "
                + tmp + "\n", notOne.stderr());
    }

    @Test
    void namesAreCheckedAndUnknownNamesSaidSo() throws Exception {
        Path repo = tmp.resolve("repo");
        ok("composefs", "repo", "init", repo.toString());
        Path a = tree("a", 1, 1);
        for (String bad : List.of("../x", "/abs", "a//b", "a/./b", "a/", "", ".tmp-x")) {
            Cli.Result r = Cli.run("composefs", "repo", "add", repo.toString(), bad, a.toString());
            assertEquals(1, r.exit(), bad);
            assertTrue(r.stderr().startsWith("composefs repo add: name '" + bad + "': "), r.stderr());
        }
        assertEquals(Set.of("images", "images/refs", "meta.json", "objects"), files(repo), "nothing stored for a bad name");
        Cli.Result untag = Cli.run("composefs", "repo", "untag", repo.toString(), "none");
        assertEquals(1, untag.exit());
        assertEquals("composefs repo untag: " + repo + ": no image named none\n", untag.stderr());
        Cli.Result tag = Cli.run("composefs", "repo", "tag", repo.toString(), "ab".repeat(32), "x");
        assertEquals(1, tag.exit());
        assertEquals("composefs repo tag: " + repo + ": no image " + "ab".repeat(32) + "\n", tag.stderr());
    }
}
