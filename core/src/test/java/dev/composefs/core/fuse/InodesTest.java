package dev.composefs.core.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.RegularFile;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class InodesTest {
    private static Directory tree(String dump) throws Exception {
        return DumpReader.read(new ByteArrayInputStream(dump.getBytes(StandardCharsets.ISO_8859_1)), true);
    }

    /** The root is 1, every name of a hardlinked file has one number, lookups find names by their bytes. */
    @Test
    void numbersOnceAndFindsByName() throws Exception {
        Directory root = tree("""
                / 4096 40755 3 0 0 0 0.0 - - -
                /b 4096 40755 2 0 0 0 0.0 - - -
                /b/f 5 100644 2 0 0 0 0.0 - hello -
                /a\\xff 0 100644 1 0 0 0 0.0 - - -
                /z 0 @100644 - - - - - /b/f - -
                """);
        Inodes in = Inodes.of(root);
        assertEquals(4, in.count(), "the root, a\\xff, b and b/f; z is b/f");
        assertSame(root, in.node(1));
        Inodes.Entries top = in.entries(1);
        // names in their bytes' unsigned order, as EROFS keeps them
        assertEquals(List.of("a\u00ff", "b", "z"), Arrays.stream(top.names())
                .map(n -> new String(n, StandardCharsets.ISO_8859_1)).toList());
        int b = top.find("b".getBytes(StandardCharsets.ISO_8859_1));
        int f = in.entries(b).find("f".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(f, top.find("z".getBytes(StandardCharsets.ISO_8859_1)), "a hardlink is its target's inode");
        assertEquals(1, in.parent(b));
        assertEquals(1, in.parent(1));
        assertEquals(0, top.find("nothing".getBytes(StandardCharsets.ISO_8859_1)));
        assertNull(in.entries(f), "a file has no entries");
        assertNull(in.node(99));
        assertEquals(5, in.size(f));
        assertEquals(5, ((RegularFile) in.node(f)).size());
    }

    /** The FUSE protocol's device numbers: the kernel's new_encode_dev. */
    @Test
    void deviceNumbersAreEncodedAsTheKernelDecodesThem() {
        assertEquals(0x0103, Attributes.newEncodedDev(dev.composefs.bindings.sys_stat_h.makedev(1, 3)));
        // major 259, minor 65537: minor's low byte, major, then minor's high bits from bit 20
        assertEquals((65537 & 0xff) | (259 << 8) | ((65537 & ~0xff) << 12),
                Attributes.newEncodedDev(dev.composefs.bindings.sys_stat_h.makedev(259, 65537)));
    }
}
