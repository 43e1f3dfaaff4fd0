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

    /** Subdirectory ab holding count objects (regular files named by their digests); returns the digests. */
    private List<byte[]> subdirectory(Path dir, int count, Random random) throws Exception {
        Files.createDirectories(dir);
        List<byte[]> digests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] d = digest(random);
            Files.writeString(dir.resolve(name(d)), "object");
            digests.add(d);
        }
        return digests;
    }

    /** Counts lookups as the store does, reading the subdirectory when the listing says so; returns the count. */
    private static int lookUp(ObjectListing listing, byte[] digest, int dir, Path where, int times) throws Exception {
        int considered = 0;
        for (int i = 0; i < times; i++) {
            if (listing.lookedUp(digest)) {
                considered++;
                listing.consider(null, digest, dir, where.toString());
            }
        }
        return considered;
    }

    @Test
    void aSubdirectoryIsReadOnceLookedUpInOftenEnoughAndThenAnswersForItsObjects() throws Exception {
        Random random = new Random(1);
        Path ab = work.resolve("ab");
        List<byte[]> stored = subdirectory(ab, 100, random);
        int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, ab.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY, 0);
        try {
            ObjectListing listing = new ObjectListing();
            assertEquals(0, lookUp(listing, stored.get(0), dir, ab, 15));
            assertFalse(listing.holds(stored.get(0)), "not read before 16 lookups: a few files into a store read nothing");
            // 100 entries take at most 16 KiB of directory on ext4, xfs, btrfs or tmpfs: read by 32 lookups
            lookUp(listing, stored.get(0), dir, ab, 17);
            for (byte[] d : stored) {
                assertTrue(listing.holds(d), name(d));
            }
            assertFalse(listing.holds(digest(random)), "an object not there is not held");
            byte[] elsewhere = stored.get(1).clone();
            elsewhere[0] = (byte) 0xac;
            assertFalse(listing.holds(elsewhere), "the same name in another subdirectory is another object");
            assertEquals(0, lookUp(listing, stored.get(0), dir, ab, 1000), "a subdirectory is read once");
        } finally {
            unistd_h.closeQuietly(dir);
        }
    }

    @Test
    void onlyRegularFilesNamedAsObjectsAreHeld() throws Exception {
        Random random = new Random(2);
        Path ab = work.resolve("ab");
        List<byte[]> stored = subdirectory(ab, 3, random);
        byte[] symlink = digest(random);
        Files.createSymbolicLink(ab.resolve(name(symlink)), ab.resolve(name(stored.get(0))));
        byte[] directory = digest(random);
        Files.createDirectory(ab.resolve(name(directory)));
        byte[] upper = digest(random);
        Files.writeString(ab.resolve(name(upper).toUpperCase()), "not the store's spelling");
        byte[] temp = digest(random);
        Files.writeString(ab.resolve(ObjectStore.TEMP_PREFIX + name(temp)), "half");
        Files.writeString(ab.resolve(name(digest(random)).substring(1)), "61 digits");
        int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, ab.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY, 0);
        try {
            ObjectListing listing = new ObjectListing();
            assertEquals(1, lookUp(listing, stored.get(0), dir, ab, 16));
            for (byte[] d : stored) {
                assertTrue(listing.holds(d), name(d));
            }
            // each is left to the store's lookup on disk, which refuses what is not a regular file
            assertFalse(listing.holds(symlink), "a symlink");
            assertFalse(listing.holds(directory), "a directory");
            assertFalse(listing.holds(upper), "upper-case hex");
            assertFalse(listing.holds(temp), "a temporary file");
        } finally {
            unistd_h.closeQuietly(dir);
        }
    }

    @Test
    void aLargeSubdirectoryIsNotReadForAFewLookups() throws Exception {
        Random random = new Random(3);
        Path ab = work.resolve("ab");
        List<byte[]> stored = subdirectory(ab, 3000, random);
        int dir = fcntl_h.openat(fcntl_h.AT_FDCWD, ab.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY, 0);
        try {
            ObjectListing listing = new ObjectListing();
            // 3000 entries are at least 60 KiB of directory (tmpfs counts 20 bytes each, ext4 72):
            // an estimate over 900 entries, more than 8 per lookup until 128 lookups
            assertEquals(3, lookUp(listing, stored.get(0), dir, ab, 127));
            assertFalse(listing.holds(stored.get(0)), "3000 entries are not read for 127 lookups");
            lookUp(listing, stored.get(0), dir, ab, 8192 - 127);
            assertTrue(listing.holds(stored.get(2999)), "read once the lookups reach an eighth of its entries");
        } finally {
            unistd_h.closeQuietly(dir);
        }
    }
}
