package dev.composefs.core.erofs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.Assets;
import dev.composefs.core.MutationFuzz;
import dev.composefs.core.dumpfile.DumpReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A seeded mutation fuzz of the image reader over conformance images: truncations, bit flips
 * and corrupted offsets must give ImageFormatException (or a valid tree), never another
 * exception, a hang, or unbounded memory.
 */
class ReaderFuzzTest {
    private static final String[] SEEDS = {"special.dump", "special_v1.dump", "bigfile-xattr.dump",
        "honggfuzz-long-symlink.dump", "longlink.dump", "config-with-hard-link.dump.gz"};
    private static final int MUTATIONS_PER_SEED = 600;
    private static final long PER_INPUT_SECONDS = 5;

    @Test
    void mutatedImagesFailCleanly() throws Exception {
        List<byte[]> images = new ArrayList<>();
        for (String s : SEEDS) {
            images.add(ErofsWriter.write(DumpReader.parse(Assets.dump(s), false), ErofsWriter.Options.DEFAULT).bytes());
        }
        int total = images.size() * MUTATIONS_PER_SEED;
        int rejected = MutationFuzz.run(images, MUTATIONS_PER_SEED, new Random(0x5eed), ReaderFuzzTest::mutate,
                ImageFormatException.class, PER_INPUT_SECONDS, ErofsReader::read);
        assertTrue(rejected > total / 4, "most corruptions are detected (" + rejected + " of " + total + ")");
    }

    private static byte[] mutate(byte[] image, Random rnd) {
        byte[] m = image.clone();
        switch (rnd.nextInt(5)) {
            case 0 -> {
                return MutationFuzz.truncate(m, rnd);
            }
            case 1 -> MutationFuzz.flipBits(m, rnd);
            case 2 -> {
                // corrupt a 32-bit field in the metadata area (offsets, sizes, counts)
                int p = 1024 + rnd.nextInt(Math.max(1, Math.min(m.length, 16384) - 1028)) & ~3;
                int v = switch (rnd.nextInt(4)) {
                    case 0 -> -1;
                    case 1 -> rnd.nextInt();
                    case 2 -> rnd.nextInt(64);
                    default -> 0x7fffffff;
                };
                m[p] = (byte) v;
                m[p + 1] = (byte) (v >> 8);
                m[p + 2] = (byte) (v >> 16);
                m[p + 3] = (byte) (v >> 24);
            }
            case 3 -> {
                // point a dirent or shared xattr id somewhere else
                int p = 1152 + rnd.nextInt(Math.max(1, Math.min(m.length, 65536) - 1160));
                m[p] = (byte) rnd.nextInt(256);
                m[p + 1] = (byte) rnd.nextInt(256);
            }
            default -> MutationFuzz.randomByte(m, rnd);
        }
        return m;
    }
}
