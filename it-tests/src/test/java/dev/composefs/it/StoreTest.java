package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** composefs store fsck|gc on stores filled by mkcomposefs. */
class StoreTest {
    @TempDir
    Path work;

    private Path tree(String name, String... files) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        for (String f : files) {
            Files.writeString(dir.resolve(f), (f + " ").repeat(40)); // over 64 bytes: backed, not inline
        }
        return dir;
    }

    private static List<Path> objects(Path store) throws Exception {
        try (Stream<Path> s = Files.walk(store)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    @Test
    void fsckReportsMismatchesAndNeverDeletesThem() throws Exception {
        Path store = work.resolve("store");
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, tree("a", "one", "two", "three").toString(),
                work.resolve("a.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        r = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().contains("3 objects checked") && r.out().contains(", 0 problems"), r.out());

        Path bad = objects(store).get(1);
        Files.writeString(bad, "tampered", java.nio.file.StandardOpenOption.APPEND);
        Path leftover = Files.writeString(bad.resolveSibling(".tmp-0123abcd-77"), "half");
        r = Cli.run("composefs", "store", "fsck", "--dry-run", store.toString());
        assertEquals(1, r.exit());
        String name = store.relativize(bad).toString();
        assertTrue(r.out().contains("ERROR " + name + ": content does not match its name"), r.out());
        assertTrue(r.out().contains("would remove leftover temporary file"), r.out());
        assertTrue(Files.exists(leftover), "--dry-run removes nothing");
        r = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(1, r.exit());
        assertTrue(Files.exists(bad), "a mismatching object is reported, never deleted");
        assertTrue(Files.notExists(leftover), "a leftover temporary file is cleared");
    }

    /**
     * A cold ingest writes its objects under temporary names and publishes them together after
     * one syncfs: killed before that, it leaves only temporary files (never an object whose
     * data may not be on disk), which gc removes; run again, it completes.
     */
    /**
     * Objects are 0644 whatever the source mode: a new store is private (0700), so a 0600 file of
     * an image is not every user's through it, and fsck names an older store that is open.
     */
    @Test
    void aNewStoreIsPrivateAndFsckWarnsAboutAnOpenOne() throws Exception {
        Path src = tree("private", "secret");
        Files.setPosixFilePermissions(src.resolve("secret"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Path store = work.resolve("private-store");
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), work.resolve("p.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(store)));
        Cli.Result fsck = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, fsck.exit(), fsck.stderr());
        assertFalse(fsck.stderr().contains("warning"), fsck.stderr());
        Files.setPosixFilePermissions(store, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        fsck = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, fsck.exit(), fsck.stderr());
        assertEquals("composefs store fsck: warning: " + store + " is open to every user (mode 0755): its objects are "
                + "readable whatever the modes of the files they hold; make it private with chmod 0700 " + store + "\n",
                fsck.stderr());
        // with the image named: which of its private files the open store gives away
        fsck = Cli.run("composefs", "store", "fsck", store.toString(), work.resolve("p.cfs").toString());
        assertEquals(0, fsck.exit(), fsck.stderr());
        assertEquals("composefs store fsck: warning: " + store + " is open to every user (mode 0755) and holds 1 file of "
                + "the images that not every user may read (/secret), readable there by all; make it private with chmod "
                + "0700 " + store + "\n", fsck.stderr());
        Files.setPosixFilePermissions(src.resolve("secret"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), work.resolve("q.cfs").toString()).exit());
        fsck = Cli.run("composefs", "store", "fsck", store.toString(), work.resolve("q.cfs").toString());
        assertEquals("", fsck.stderr(), "an image whose files every user may read: nothing to say");
    }

    @Test
    void aKilledIngestPublishesNothingAndARerunCompletes() throws Exception {
        Path tree = Files.createDirectories(work.resolve("many"));
        byte[] block = new byte[20000];
        for (int i = 0; i < 10000; i++) {
            Path d = Files.createDirectories(tree.resolve("d" + (i % 100)));
            block[0] = (byte) i;
            block[1] = (byte) (i >> 8);
            Files.write(d.resolve("f" + i), block);
        }
        Path store = work.resolve("store-killed");
        Process p = new ProcessBuilder(Cli.repo().resolve("bin/mkcomposefs").toString(), "--digest-store=" + store,
                tree.toString(), work.resolve("killed.cfs").toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long temps = 0;
        for (int i = 0; i < 1200 && p.isAlive() && temps < 1000; i++) {
            Thread.sleep(10);
            if (Files.isDirectory(store)) {
                try (Stream<Path> s = Files.walk(store)) {
                    temps = s.filter(f -> f.getFileName().toString().startsWith(".tmp-")).count();
                } catch (java.io.UncheckedIOException raced) {
                    // a temporary file renamed while listed
                }
            }
        }
        assertTrue(p.isAlive(), "still ingesting when killed (" + temps + " temporary files)");
        p.destroyForcibly(); // SIGKILL
        p.waitFor();
        assertFalse(Files.exists(work.resolve("killed.cfs")));
        assertTrue(objects(store).stream().allMatch(f -> f.getFileName().toString().startsWith(".tmp-")),
                "no object published before the flush");
        Cli.Result r = Cli.run("mkcomposefs", "--print-digest", "--digest-store=" + store, tree.toString(),
                work.resolve("rerun.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        Cli.Result ref = Cli.run("mkcomposefs", "--print-digest", "--digest-store=" + work.resolve("store-ref"),
                tree.toString(), work.resolve("ref.cfs").toString());
        assertEquals(ref.out(), r.out());
        r = Cli.run("composefs", "store", "gc", store.toString(), work.resolve("rerun.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        List<Path> left = objects(store);
        assertEquals(10000, left.size(), "every object, and no temporary file");
        assertTrue(left.stream().noneMatch(f -> f.getFileName().toString().startsWith(".tmp-")));
        Cli.Result fsck = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, fsck.exit(), fsck.out());
    }

    @Test
    void gcRemovesWhatNoImageReferences() throws Exception {
        Path store = work.resolve("store");
        Path a = work.resolve("a.cfs");
        Path b = work.resolve("b.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, tree("ta", "shared", "only-a").toString(),
                a.toString()).exit());
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, tree("tb", "shared", "only-b").toString(),
                b.toString()).exit());
        assertEquals(3, objects(store).size(), "the shared file is stored once");

        Cli.Result r = Cli.run("composefs", "store", "gc", "--dry-run", store.toString(), a.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().contains("would remove 1 objects, freeing 280 bytes"), r.out());
        assertEquals(3, objects(store).size());

        r = Cli.run("composefs", "store", "gc", store.toString(), a.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().contains("removed 1 objects, freed 280 bytes") && r.out().contains("2 objects kept"),
                r.out());
        assertEquals(2, objects(store).size());
        r = Cli.run("composefs-info", "missing-objects", "--basedir=" + store, a.toString());
        assertEquals("", r.out(), "everything image a needs is still there");
        r = Cli.run("composefs-info", "missing-objects", "--basedir=" + store, b.toString());
        assertEquals(1, r.out().lines().count(), r.out());

        // an unreadable image stops gc before anything is removed
        Path junk = Files.writeString(work.resolve("junk.cfs"), "not an image");
        r = Cli.run("composefs", "store", "gc", store.toString(), junk.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("junk.cfs") && r.stderr().contains("nothing was removed"), r.stderr());
        assertEquals(2, objects(store).size());
        r = Cli.run("composefs", "store", "gc", work.resolve("no-store").toString(), a.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("no-store"), r.stderr());
    }

    /**
     * The kernel driver's descriptors cached in a store (descriptors/<fs-verity digest>): fsck
     * checks each against its name, gc keeps the one of a named image and removes the rest. The
     * descriptor the driver gets for an image without inline files is what mkcomposefs
     * --format=descriptor writes for the same tree; its name comes from fsverity-utils.
     */
    @Test
    void cachedDescriptorsAreCheckedAndCollected() throws Exception {
        Path store = work.resolve("dstore");
        Path src = tree("dsrc", "one", "two");
        Path img = work.resolve("d.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), img.toString()).exit());
        Path descriptor = work.resolve("d.descriptor");
        assertEquals(0, Cli.run("mkcomposefs", "--format=descriptor", "--digest-store=" + store, src.toString(),
                descriptor.toString()).exit());
        String name = Cli.run("/usr/bin/env", "fsverity", "digest", "--compact", descriptor.toString()).out().trim();
        Path cached = Files.createDirectories(store.resolve("descriptors")).resolve(name);
        Files.copy(descriptor, cached);
        Path stale = Files.write(store.resolve("descriptors").resolve("0".repeat(64)), new byte[300]);

        Cli.Result r = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("ERROR descriptors/" + "0".repeat(64) + ": content does not match its name"), r.out());
        assertFalse(r.out().contains("descriptors/" + name + ":"), "the right one passes: " + r.out());

        r = Cli.run("composefs", "store", "gc", store.toString(), img.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(Files.exists(cached), "the descriptor of the named image is kept: " + r.out());
        assertFalse(Files.exists(stale), "a descriptor no image needs is removed: " + r.out());
        Path other = work.resolve("other.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, tree("dother", "three").toString(),
                other.toString()).exit());
        r = Cli.run("composefs", "store", "gc", store.toString(), other.toString());
        assertFalse(Files.exists(cached), "collected once its image is no longer named: " + r.out());
    }
}
