package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tar.TarReader;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One layer's tar, as GNU tar writes it, read into a layer tree: whiteouts and opaque markers
 * noted on their directory, small files inline, large ones in the store, hardlinks resolved,
 * PAX xattrs kept; damaged layers refused, naming the member.
 */
class LayerReaderTest {
    @TempDir
    Path tmp;

    private Path tar(Path dir, String... extra) throws Exception {
        Path out = tmp.resolve(dir.getFileName() + ".tar");
        List<String> cmd = new ArrayList<>(List.of("tar", "--xattrs", "--xattrs-include=user.*", "--numeric-owner",
                "-C", dir.toString(), "-cf", out.toString()));
        cmd.addAll(List.of(extra));
        cmd.add(".");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, log);
        return out;
    }

    private LayerTree.Dir read(Path tar, ObjectStore store) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (InputStream in = Files.newInputStream(tar)) {
            LayerReader reader = new LayerReader(new OciImport.Options(false, false, false, 2), store,
                    new LayerReader.Counters(), "layer", new LayerReader.Hashers(pool, new Semaphore(64 << 10)));
            return reader.read(new TarReader(in, "layer"));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aLayerBecomesATreeWithItsWhiteoutsObjectsAndLinks() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("layer/etc/gone-dir"));
        dir = tmp.resolve("layer");
        Files.writeString(dir.resolve("etc/.wh..wh..opq"), "");
        Files.writeString(dir.resolve("etc/.wh.removed"), "");
        Files.writeString(dir.resolve("etc/small"), "small file");
        byte[] big = new byte[300_000];
        new Random(5).nextBytes(big);
        Files.write(dir.resolve("big"), big);
        Files.createLink(dir.resolve("big-again"), dir.resolve("big"));
        Files.createSymbolicLink(dir.resolve("etc/link"), Path.of("../big"));
        Files.getFileAttributeView(dir.resolve("etc/small"), UserDefinedFileAttributeView.class)
                .write("k", StandardCharsets.US_ASCII.encode("v"));
        try (ObjectStore store = ObjectStore.open(tmp.resolve("store"), true, ObjectStore.Lock.SHARED, w -> { })) {
            LayerTree.Dir root = read(tar(dir), store);
            LayerTree.Dir etc = assertInstanceOf(LayerTree.Dir.class, root.children.get("etc"));
            assertTrue(etc.opaque, "the opaque marker is noted, not entered");
            assertEquals(List.of("removed"), List.copyOf(etc.whiteouts));
            assertTrue(!etc.children.containsKey(".wh.removed") && !etc.children.containsKey(".wh..wh..opq"));
            RegularFile small = (RegularFile) ((LayerTree.Leaf) etc.children.get("small")).node();
            assertArrayEquals("small file".getBytes(StandardCharsets.US_ASCII), small.content());
            assertArrayEquals(new byte[] {'v'}, small.meta().xattrs().get("user.k"), "PAX xattr kept");
            RegularFile stored = (RegularFile) ((LayerTree.Leaf) root.children.get("big")).node();
            assertNull(stored.content());
            assertTrue(store.contains(stored.digest()), "the large file streamed into the store");
            assertEquals("../big", ((Symlink) ((LayerTree.Leaf) etc.children.get("link")).node()).target());
            // the second name of one inode is the same node
            LayerTree.Entry again = root.children.get("big-again");
            assertSame(stored, again instanceof LayerTree.Leaf l ? l.node() : null, "hardlink: " + again);
        }
    }

    @Test
    void damagedLayersAreRefusedNamingTheMember() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("escape"));
        Files.writeString(dir.resolve("f"), "x");
        Path escaping = tar(dir, "--transform=s,^\\./f,../f,");
        IOException up = assertThrows(IOException.class, () -> read(escaping, null));
        assertTrue(up.getMessage().startsWith("layer: ") && up.getMessage().contains(".."), up.getMessage());
        // a layer cut inside a member's content
        Path whole = Files.createDirectories(tmp.resolve("whole"));
        Files.write(whole.resolve("file"), new byte[10_000]);
        byte[] full = Files.readAllBytes(tar(whole));
        Path truncated = Files.write(tmp.resolve("truncated.tar"), Arrays.copyOf(full, 3 * 512 + 100));
        IOException cut = assertThrows(IOException.class, () -> read(truncated, null));
        assertTrue(cut.getMessage().startsWith("layer"), cut.getMessage());
    }
}
