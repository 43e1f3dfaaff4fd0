package dev.composefs.core.repository;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.unistd_h;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The listing a store keeps of subdirectories it read whole instead of looking up each object. */
class ObjectListingTest {
    @TempDir
    Path work;

    /** A digest in subdirectory 0xab. */
    private static byte[] digest(Random random) {
        byte[] d = new byte[32];
        random.nextBytes(d);
        d[0] = (byte) 0xab;
        return d;
    }

    private static String name(byte[] digest) {
        return HexFormat.of().formatHex(digest, 1, 32);
    }

    /** Subdirectory ab of work, open as fd, holding the objects with digests stored (regular files named by them). */
    private record Sub(Path path, int fd, List<byte[]> stored, Random random) implements AutoCloseable {
        @Override
        public void close() {
            unistd_h.closeQuietly(fd);
        }
    }

    private Sub subdirectory(int count, long seed) throws Exception {
        Random random = new Random(seed);
        Path dir = Files.createDirectories(work.resolve("ab"));
        List<byte[]> digests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] d = digest(random);
            Files.writeString(dir.resolve(name(d)), "object");
            digests.add(d);
        }
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, dir.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY, 0);
        return new Sub(dir, fd, digests, random);
    }

    /** Counts times lookups of sub's first object as the store does, reading sub when the listing says so; returns how often it did. */
    private static int lookUp(ObjectListing listing, Sub sub, int times) throws Exception {
        byte[] digest = sub.stored().get(0);
        int considered = 0;
        for (int i = 0; i < times; i++) {
            if (listing.lookedUp(digest)) {
                considered++;
                listing.consider(null, digest, sub.fd(), sub.path().toString());
            }
        }
        return considered;
    }

    private static void assertHoldsAll(ObjectListing listing, Sub sub) {
        for (byte[] d : sub.stored()) {
            assertTrue(listing.holds(d), name(d));
        }
    }

    @Test
    void aSubdirectoryIsReadOnceLookedUpInOftenEnoughAndThenAnswersForItsObjects() throws Exception {
        try (Sub ab = subdirectory(100, 1)) {
            ObjectListing listing = new ObjectListing();
            assertEquals(0, lookUp(listing, ab, 15));
            assertFalse(listing.holds(ab.stored().get(0)), "not read before 16 lookups: a few files into a store read nothing");
            // 100 entries take at most 16 KiB of directory on ext4, xfs, btrfs or tmpfs: read by 32 lookups
            lookUp(listing, ab, 17);
            assertHoldsAll(listing, ab);
            assertFalse(listing.holds(digest(ab.random())), "an object not there is not held");
            byte[] elsewhere = ab.stored().get(1).clone();
            elsewhere[0] = (byte) 0xac;
            assertFalse(listing.holds(elsewhere), "the same name in another subdirectory is another object");
            assertEquals(0, lookUp(listing, ab, 1000), "a subdirectory is read once");
        }
    }

    @Test
    void onlyRegularFilesNamedAsObjectsAreHeld() throws Exception {
        try (Sub ab = subdirectory(3, 2)) {
            Random random = ab.random();
            byte[] symlink = digest(random);
            Files.createSymbolicLink(ab.path().resolve(name(symlink)), ab.path().resolve(name(ab.stored().get(0))));
            byte[] directory = digest(random);
            Files.createDirectory(ab.path().resolve(name(directory)));
            byte[] upper = digest(random);
            Files.writeString(ab.path().resolve(name(upper).toUpperCase()), "not the store's spelling");
            byte[] temp = digest(random);
            Files.writeString(ab.path().resolve(ObjectStore.TEMP_PREFIX + name(temp)), "half");
            Files.writeString(ab.path().resolve(name(digest(random)).substring(1)), "61 digits");
            ObjectListing listing = new ObjectListing();
            assertEquals(1, lookUp(listing, ab, 16));
            assertHoldsAll(listing, ab);
            // each is left to the store's lookup on disk, which refuses what is not a regular file
            assertFalse(listing.holds(symlink), "a symlink");
            assertFalse(listing.holds(directory), "a directory");
            assertFalse(listing.holds(upper), "upper-case hex");
            assertFalse(listing.holds(temp), "a temporary file");
        }
    }

    @Test
    void aLargeSubdirectoryIsNotReadForAFewLookups() throws Exception {
        try (Sub ab = subdirectory(3000, 3)) {
            ObjectListing listing = new ObjectListing();
            // 3000 entries are at least 60 KiB of directory (tmpfs counts 20 bytes each, ext4 72):
            // an estimate over 900 entries, more than 8 per lookup until 128 lookups
            assertEquals(3, lookUp(listing, ab, 127));
            assertFalse(listing.holds(ab.stored().get(0)), "3000 entries are not read for 127 lookups");
            lookUp(listing, ab, 8192 - 127);
            assertTrue(listing.holds(ab.stored().get(2999)), "read once the lookups reach an eighth of its entries");
        }
    }
}
