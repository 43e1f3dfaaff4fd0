package dev.composefs.core.descriptor;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.MutationFuzz;
import dev.composefs.core.descriptor.Format.Inode;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Fifo;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Socket;
import dev.composefs.core.tree.Xattrs;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Malformed descriptors are refused with a {@link DescriptorFormatException} saying what is
 * wrong; a seeded mutation fuzz over descriptors of the conformance trees never gets another
 * exception, a hang or unbounded memory.
 */
class DescriptorReaderTest {
    private static final int VDATA = 128 + 4 * 96;

    /** / {a: fifo, b: dir {c: socket}}: inodes 0 /, 1 a, 2 b, 3 c; the root's dirents start the variable data. */
    private static byte[] small() throws Exception {
        Meta m = new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 2, null);
        Directory root = new Directory(m);
        root.entries().put("a", new Fifo(new Meta(Meta.S_IFIFO | 0644, 0, 0, 0, 0, 1, null)));
        Directory b = new Directory(m);
        root.entries().put("b", b);
        Xattrs x = new Xattrs();
        x.put("user.one", new byte[] {1});
        x.put("user.two", new byte[] {2});
        b.entries().put("c", new Socket(new Meta(Meta.S_IFSOCK | 0644, 0, 0, 0, 0, 1, x)));
        return DescriptorWriter.write(root);
    }

    private static void refused(String expected, Consumer<ByteBuffer> corrupt) throws Exception {
        byte[] d = small();
        DescriptorReader.read(d); // sound before the corruption
        ByteBuffer bb = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        corrupt.accept(bb);
        DescriptorFormatException e = assertThrows(DescriptorFormatException.class, () -> DescriptorReader.read(d));
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should say " + expected);
    }

    private static Inode inode(ByteBuffer bb, int n) {
        return Inode.get(bb, 128 + 96 * n);
    }

    /** Absolute offset of dirent i of inode n's directory data. */
    private static int dirent(ByteBuffer bb, int n, int i) {
        return VDATA + (int) inode(bb, n).variable().off() + 4 + 12 * i;
    }

    @Test
    void headerProblems() throws Exception {
        refused("bad magic", bb -> bb.putInt(4, 0xd078629a));
        refused("unsupported descriptor version 2", bb -> bb.putInt(0, 2));
        refused("does not end a whole inode table", bb -> bb.putLong(8, 128 + 95));
        refused("does not end a whole inode table", bb -> bb.putLong(8, -1));
        refused("does not end a whole inode table", bb -> bb.putLong(8, 128));
        assertThrows(DescriptorFormatException.class, () -> DescriptorReader.read(Arrays.copyOf(small(), 200)));
        assertThrows(DescriptorFormatException.class, () -> DescriptorReader.read(new byte[0]));
    }

    @Test
    void unsortedDirentsAreRefused() throws Exception {
        refused("not strictly sorted", bb -> {
            int names = dirent(bb, 0, 2); // the name table follows the two dirents
            bb.put(names, (byte) 'b').put(names + 1, (byte) 'a');
            bb.put(dirent(bb, 0, 0) + 9, (byte) 4).put(dirent(bb, 0, 1) + 9, (byte) 1); // types follow the swap
            bb.putInt(dirent(bb, 0, 0), 2).putInt(dirent(bb, 0, 1), 1);
        });
        refused("not strictly sorted", bb -> bb.put(dirent(bb, 0, 2) + 1, (byte) 'a')); // duplicate name
    }

    @Test
    void loopsAndBadTargetsAreRefused() throws Exception {
        refused("points back to the root", bb -> bb.putInt(dirent(bb, 2, 0), 0).put(dirent(bb, 2, 0) + 9, (byte) 4));
        refused("reachable twice", bb -> bb.putInt(dirent(bb, 2, 0), 2).put(dirent(bb, 2, 0) + 9, (byte) 4));
        refused("beyond the inode table", bb -> bb.putInt(dirent(bb, 2, 0), 4));
        refused("beyond the inode table", bb -> bb.putInt(dirent(bb, 2, 0), -1));
        refused("d_type 8 differs", bb -> bb.put(dirent(bb, 2, 0) + 9, (byte) 8));
        refused("root inode 0 is not a directory", bb -> bb.putInt(128, Meta.S_IFREG | 0644));
        refused("differs from its inode", bb -> bb.putInt(128 + 96, 0170644));
        refused("invalid mode", bb -> bb.putInt(128, 0x10000 | Meta.S_IFDIR | 0755));
        refused("invalid entry name '.'", bb -> bb.put(dirent(bb, 0, 2), (byte) '.'));
        refused("invalid entry name 'a/'", bb -> bb.put(dirent(bb, 0, 2) + 1, (byte) '/').put(dirent(bb, 0, 1) + 8,
                (byte) 1).putInt(dirent(bb, 0, 1) + 4, 0).put(dirent(bb, 0, 0) + 8, (byte) 2));
    }

    @Test
    void referencesOutsideTheFileAreRefused() throws Exception {
        refused("outside the variable data section", bb -> bb.putLong(128 + 52, 1L << 40));
        refused("outside the variable data section", bb -> bb.putInt(128 + 60, 1 << 30));
        refused("outside the variable data section", bb -> bb.putLong(128 + 52, -4));
        refused("outside the name table", bb -> bb.putInt(dirent(bb, 0, 1) + 4, 2));
        refused("do not fit", bb -> bb.putInt(dirent(bb, 0, 0) - 4, 1000));
        refused("do not fit", bb -> bb.putInt(dirent(bb, 0, 0) - 4, -1));
        refused("xattr 1 runs past", bb -> {
            int at = VDATA + (int) inode(bb, 3).xattrs().off();
            bb.putShort(at + 2 + 4 + 2, (short) 60000);
        });
        refused("digest on an inode that is not a regular file", bb -> bb.putInt(128 + 96 + 76 + 8, 32));
        refused("variable data on an inode that has none", bb -> bb.putInt(128 + 96 + 52 + 8, 4));
    }

    @Test
    void unsortedXattrsAreRefused() throws Exception {
        refused("xattrs not strictly sorted", bb -> {
            int at = VDATA + (int) inode(bb, 3).xattrs().off();
            int keys = at + 2 + 4 * 2;
            // "user.one" + value, "user.two" + value: make the second key sort first
            bb.put(keys + 9 + 5, (byte) 'a');
        });
    }

    private static final String[] SEEDS = {"special.dump", "special_v1.dump", "bigfile-xattr.dump",
        "honggfuzz-long-symlink.dump", "longlink.dump", "config-with-hard-link.dump.gz"};

    @Test
    void mutatedDescriptorsFailCleanly() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        for (String s : SEEDS) {
            seeds.add(DescriptorWriter.write(Trees.externalizeInline(Trees.conformance(s))));
        }
        seeds.add(DescriptorWriter.write(Trees.everything()));
        int total = seeds.size() * 600;
        int rejected = MutationFuzz.run(seeds, 600, new Random(0xdec0de), DescriptorReaderTest::mutate,
                DescriptorFormatException.class, 5, DescriptorReader::read);
        assertTrue(rejected > total / 4, "most corruptions are detected (" + rejected + " of " + total + ")");
    }

    private static byte[] mutate(byte[] d, Random rnd) {
        byte[] m = d.clone();
        switch (rnd.nextInt(5)) {
            case 0 -> {
                return MutationFuzz.truncate(m, rnd);
            }
            case 1 -> MutationFuzz.flipBits(m, rnd);
            case 2 -> {
                // a 32- or 64-bit field of the inode table: offsets, lengths, counts
                int inodes = (int) ((ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getLong(8) - 128) / 96);
                int p = 128 + 96 * rnd.nextInt(Math.max(1, Math.min(inodes, 2000))) + 4 * rnd.nextInt(22);
                long v = switch (rnd.nextInt(5)) {
                    case 0 -> -1L;
                    case 1 -> rnd.nextLong();
                    case 2 -> rnd.nextInt(64);
                    case 3 -> 0x7fffffffL;
                    default -> rnd.nextInt(m.length);
                };
                ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putInt(Math.min(p, m.length - 4), (int) v);
            }
            case 3 -> {
                // dirents, names and xattr headers in the variable data
                long vd = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
                int p = (int) vd + rnd.nextInt(Math.max(1, m.length - (int) vd - 2));
                m[p] = (byte) rnd.nextInt(256);
                m[p + 1] = (byte) rnd.nextInt(256);
            }
            default -> MutationFuzz.randomByte(m, rnd);
        }
        return m;
    }
}
