package dev.composefs.core.scan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Fifo;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A directory read into a tree (what mkcomposefs and composefs repo add build on), as any user:
 * every kind of entry, what is inline and what goes to the store, hardlinks kept only when asked.
 * IngestTest (it-tests) compares whole images with independent dumps, as root.
 */
class DirectoryScannerTest {
    @TempDir
    Path tmp;

    private Path source() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/sub/deeper"));
        src = tmp.resolve("src");
        Files.writeString(src.resolve("small"), "x".repeat(64)); // at upstream's inline limit
        byte[] big = new byte[100_000];
        new Random(3).nextBytes(big);
        Files.write(src.resolve("sub/big"), big);
        Files.write(src.resolve("empty"), new byte[0]);
        Files.createLink(src.resolve("sub/big-link"), src.resolve("sub/big"));
        Files.createSymbolicLink(src.resolve("sub/deeper/up"), Path.of("../big"));
        Process fifo = new ProcessBuilder("mkfifo", src.resolve("fifo").toString()).start();
        assertTrue(fifo.waitFor(10, TimeUnit.SECONDS) && fifo.exitValue() == 0);
        UserDefinedFileAttributeView user = Files.getFileAttributeView(src.resolve("small"), UserDefinedFileAttributeView.class);
        user.write("test", StandardCharsets.US_ASCII.encode("value"));
        Files.setLastModifiedTime(src.resolve("small"), FileTime.fromMillis(1_700_000_000_123L));
        return src;
    }

    private static ScanOptions options(boolean hardlinks) {
        return new ScanOptions(false, false, false, false, hardlinks, 3, ScanOptions.UPSTREAM_INLINE_LIMIT);
    }

    private static Node at(Directory root, String path) {
        Node n = root;
        for (String part : path.split("/")) {
            n = ((Directory) n).entries().get(part);
        }
        return n;
    }

    @Test
    void everyKindOfEntryWithItsMetadata() throws Exception {
        Path src = source();
        Directory root = DirectoryScanner.ingest(src, options(false), null, Progress.none());
        RegularFile small = assertInstanceOf(RegularFile.class, at(root, "small"));
        assertArrayEquals("x".repeat(64).getBytes(StandardCharsets.US_ASCII), small.content(), "64 bytes: inline");
        assertArrayEquals("value".getBytes(StandardCharsets.US_ASCII), small.meta().xattrs().get("user.test"));
        assertEquals(1_700_000_000L, small.meta().mtimeSec());
        assertEquals(123_000_000, small.meta().mtimeNsec());
        RegularFile big = assertInstanceOf(RegularFile.class, at(root, "sub/big"));
        assertNull(big.content(), "over the limit: in the store, not inline");
        assertEquals(100_000, big.size());
        assertEquals(32, big.digest().length);
        assertEquals(0, assertInstanceOf(RegularFile.class, at(root, "empty")).size());
        assertEquals("../big", assertInstanceOf(Symlink.class, at(root, "sub/deeper/up")).target());
        assertInstanceOf(Fifo.class, at(root, "fifo"));
        assertEquals(Meta.S_IFDIR, root.meta().mode() & Meta.S_IFMT);
        // without --hardlinks, as upstream: each name its own inode, with the same content
        RegularFile link = assertInstanceOf(RegularFile.class, at(root, "sub/big-link"));
        assertArrayEquals(big.digest(), link.digest());
    }

    @Test
    void hardlinksAreKeptWhenAskedAndObjectsStoredOnce() throws Exception {
        Path src = source();
        try (ObjectStore store = ObjectStore.open(tmp.resolve("store"), true, ObjectStore.Lock.SHARED, w -> { })) {
            Directory root = DirectoryScanner.ingest(src, options(true), store, Progress.none());
            Hardlink link = assertInstanceOf(Hardlink.class, at(root, "sub/big-link"));
            assertSame(at(root, "sub/big"), link.target());
            RegularFile big = (RegularFile) at(root, "sub/big");
            assertTrue(store.contains(big.digest()), "the large file's object is in the store");
            try (var objects = Files.walk(tmp.resolve("store"))) {
                assertEquals(1, objects.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")
                        && f.getParent().getFileName().toString().length() == 2).count(), "one object: small files are inline");
            }
        }
    }

    @Test
    void whatCannotBeScannedIsNamed() throws Exception {
        Path missing = tmp.resolve("missing");
        IOException none = assertThrows(IOException.class,
                () -> DirectoryScanner.ingest(missing, options(false), null, Progress.none()));
        assertTrue(none.getMessage().contains(missing.toString()), none.getMessage());
        Path file = Files.writeString(tmp.resolve("file"), "x");
        IOException notDir = assertThrows(IOException.class,
                () -> DirectoryScanner.ingest(file, options(false), null, Progress.none()));
        assertTrue(notDir.getMessage().contains(file.toString()), notDir.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ScanOptions(false, false, true, true, false, 1, 64));
        assertThrows(IllegalArgumentException.class, () -> new ScanOptions(false, false, false, false, false, 0, 64));
    }
}
