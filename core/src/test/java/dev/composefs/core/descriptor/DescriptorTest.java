package dev.composefs.core.descriptor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.TreeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Descriptor writer and reader: lossless round trips for everything the format holds, the same
 * dump as the EROFS image of the same tree except for the format's listed limits, determinism,
 * and the one thing refused (inline content).
 *
 * <p>What a descriptor cannot carry, compared with an EROFS image of the same tree (see
 * {@link Trees#driverView}): inline file content (refused; {@link Trees#externalizeInline}
 * moves it to backing files first); nlink of inodes other than regular files (the driver shows
 * directories as 2 + subdirectories and everything else as 1); mode bits above 16 and rdev
 * bits above 32 (as in EROFS). ctime is not in the tree model; the writer stores the mtime. And
 * what an EROFS image adds that a descriptor does not: format 1 marks directories holding
 * whiteouts with {@code trusted.overlay.opaque=x} and {@code user.overlay.opaque=x} for
 * overlayfs stacking ({@link Trees#withoutWhiteoutMarks}).
 */
class DescriptorTest {

    @TestFactory
    Stream<DynamicTest> conformanceDumpsRoundTrip() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : Trees.conformanceDumps()) {
            tests.add(DynamicTest.dynamicTest(name, () -> roundTrip(Trees.externalizeInline(Trees.conformance(name)))));
        }
        return tests.stream();
    }

    @Test
    void everyInodeTypeRoundTrips() throws IOException {
        roundTrip(Trees.everything());
    }

    /**
     * tree -> descriptor -> tree loses nothing the format holds; tree -> EROFS -> tree and
     * tree -> descriptor -> tree give the same dump up to the listed limits; writing is
     * deterministic and re-writing the read tree gives the same bytes.
     */
    private static void roundTrip(Directory tree) throws IOException {
        byte[] descriptor = DescriptorWriter.write(tree);
        assertArrayEquals(descriptor, DescriptorWriter.write(tree), "same tree, same bytes");
        DescriptorReader.Descriptor back = DescriptorReader.read(descriptor);
        assertArrayEquals(descriptor, DescriptorWriter.write(back.root()), "read tree writes the same bytes again");

        assertEquals(Trees.erofsDump(Trees.driverView(tree)), Trees.dump(back),
                "tree -> descriptor -> tree keeps all the format holds");

        Directory viaErofs = ErofsReader.read(ErofsWriter.write(tree, ErofsWriter.Options.DEFAULT).bytes());
        assertEquals(Trees.erofsDump(Trees.driverView(Trees.withoutWhiteoutMarks(viaErofs))), Trees.dump(back),
                "the descriptor dumps as the EROFS image does, up to the listed limits");
        // what the mount path does: the EROFS image's tree converted
        assertEquals(Trees.erofsDump(Trees.driverView(viaErofs)),
                Trees.dump(DescriptorReader.read(DescriptorWriter.write(viaErofs))), "EROFS -> descriptor keeps the tree");
    }

    @Test
    void inlineContentIsRefusedNamingThePath() throws IOException {
        Directory tree = Trees.conformance("special.dump");
        TreeException e = assertThrows(TreeException.class, () -> DescriptorWriter.write(tree));
        assertTrue(e.getMessage().contains("inline content"), e.getMessage());
        assertTrue(e.getMessage().startsWith("/"), "names the file: " + e.getMessage());
    }

    @Test
    void layoutFollowsTheFormatDescription() throws IOException {
        Directory root = new Directory(new Meta(Meta.S_IFDIR | 0755, 0, 0, 5, 6, 2, null));
        byte[] d = DescriptorWriter.write(root);
        var bb = java.nio.ByteBuffer.wrap(d).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(128 + 96 + 4, d.length, "the driver refuses superblock + one inode alone: 4 bytes of padding");
        assertEquals(1, bb.getInt(0), "version");
        assertEquals(0xc078629a, bb.getInt(4), "magic");
        assertEquals(128 + 96, bb.getLong(8), "vdata_offset");
        assertEquals(Meta.S_IFDIR | 0755, bb.getInt(128), "root st_mode");
        assertEquals(5, bb.getLong(128 + 28), "st_mtim_sec");
        assertEquals(6, bb.getInt(128 + 36), "st_mtim_nsec");
        assertEquals(5, bb.getLong(128 + 40), "st_ctim_sec is the mtime");
    }

    /** The driver reads st_rdev as the kernel's dev_t: major << 20 | minor. */
    @Test
    void deviceNumbersInTheKernelsEncoding() throws IOException {
        Directory root = new Directory(new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 2, null));
        // glibc's makedev(1, 3) and makedev(259, 70000) (major above 8 bits, minor above 16)
        root.entries().put("null", new dev.composefs.core.tree.Device(new Meta(Meta.S_IFCHR | 0666, 0, 0, 0, 0, 1, null),
                (1L << 8) | 3));
        long big = ((259L & 0xfff) << 8) | ((70000L & 0xffffff00L) << 12) | (70000L & 0xff);
        root.entries().put("nvme", new dev.composefs.core.tree.Device(new Meta(Meta.S_IFBLK | 0660, 0, 0, 0, 0, 1, null),
                big));
        byte[] d = DescriptorWriter.write(root);
        var bb = java.nio.ByteBuffer.wrap(d).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        // inodes in breadth-first name order: root, null, nvme; st_rdev at offset 16
        assertEquals((1 << 20) | 3, bb.getInt(128 + 96 + 16), "1:3");
        assertEquals((259 << 20) | 70000, bb.getInt(128 + 2 * 96 + 16), "259:70000");
        Directory back = DescriptorReader.read(d).root();
        assertEquals((1L << 8) | 3, ((dev.composefs.core.tree.Device) back.entries().get("null")).rdev());
        assertEquals(big, ((dev.composefs.core.tree.Device) back.entries().get("nvme")).rdev());
    }

    @Test
    void direntsAreSortedByNameBytes() throws IOException {
        Directory tree = Trees.everything();
        byte[] d = DescriptorWriter.write(tree);
        var back = DescriptorReader.read(d).root();
        Directory etc = (Directory) back.entries().get("etc");
        List<String> names = new ArrayList<>(etc.entries().keySet());
        assertEquals(List.of("B", "a", "ab", "abc", "empty", "no-digest", "passwd", "passwd-link",
                "sparse-without-backing", "~", "\u0080"), names);
        // /a-link-before-its-inode is the first name depth-first, so it holds the inode now
        var passwd = etc.entries().get("passwd");
        assertTrue(passwd instanceof dev.composefs.core.tree.Hardlink h && h.target() == back.entries()
                .get("a-link-before-its-inode"), "etc/passwd is a further name of the same inode");
        assertEquals(3, passwd.meta().nlink());
    }
}
