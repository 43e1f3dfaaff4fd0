package dev.composefs.core.erofs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.RegularFile;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every form of a value hashes, compares and copies as its bytes do, whichever form it has. */
class XattrValueTest {
    private static final Meta META = new Meta(Meta.S_IFREG | 0644, 0, 0, 0, 0, 1, null);

    @Test
    void objectRedirectsAreTheBytesOfTheirPath() {
        Random r = new Random(21);
        Object[] values = new Object[40];
        byte[][] bytes = new byte[40][];
        for (int i = 0; i < values.length; i++) {
            byte[] digest = new byte[32];
            r.nextBytes(digest);
            if (i % 4 == 0) {
                digest[0] = (byte) (i * 3); // some share their first byte
            }
            RegularFile f = RegularFile.stored(META, 100, null, digest);
            String path = "/" + RegularFile.objectPath(digest);
            bytes[i] = path.getBytes(StandardCharsets.ISO_8859_1);
            values[i] = i % 2 == 0 ? XattrValue.redirectToObject(f) : XattrValue.redirect(path.substring(1));
            assertEquals(66, XattrValue.length(values[i]));
            assertEquals(Arrays.hashCode(bytes[i]), XattrValue.hash(values[i]));
            assertArrayEquals(bytes[i], XattrValue.bytes(values[i]));
            byte[] into = new byte[70];
            XattrValue.copy(values[i], into, 2);
            assertArrayEquals(bytes[i], Arrays.copyOfRange(into, 2, 68));
            assertTrue(XattrValue.same(values[i], XattrValue.redirect(path.substring(1))), "both forms are one value");
        }
        for (int i = 0; i < values.length; i++) {
            for (int j = 0; j < values.length; j++) {
                assertEquals(Integer.signum(Arrays.compareUnsigned(bytes[i], bytes[j])),
                        Integer.signum(XattrValue.compare(values[i], values[j])), i + " vs " + j);
                assertEquals(i == j, XattrValue.same(values[i], values[j]));
            }
        }
    }

    @Test
    void metacopyIsItsHeaderAndDigest() {
        byte[] digest = new byte[32];
        new Random(7).nextBytes(digest);
        Object v = XattrValue.metacopy(RegularFile.stored(META, 100, null, digest));
        byte[] expected = new byte[36];
        expected[1] = 36;
        expected[3] = 1;
        System.arraycopy(digest, 0, expected, 4, 32);
        assertArrayEquals(expected, XattrValue.bytes(v));
        assertEquals(Arrays.hashCode(expected), XattrValue.hash(v));
    }
}
