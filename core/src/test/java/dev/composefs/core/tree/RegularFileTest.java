package dev.composefs.core.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** A file whose payload is its digest's object path keeps a marker, not a string, and means the same. */
class RegularFileTest {
    private static final Meta META = new Meta(Meta.S_IFREG | 0644, 0, 0, 0, 0, 1, null);
    private static final byte[] DIGEST = HexFormat.of()
            .parseHex("a7f1c3e5d2b4968071e3f5a7c9b1d3e5f7092b4d6f81a3c5e7f9b1d3f5a7c9e0");
    private static final String PATH = "a7/f1c3e5d2b4968071e3f5a7c9b1d3e5f7092b4d6f81a3c5e7f9b1d3f5a7c9e0";

    @Test
    void storedSpellsOutItsObjectPath() {
        RegularFile f = RegularFile.stored(META, 100, null, DIGEST);
        assertTrue(f.payloadIsObjectPath());
        assertEquals(PATH, f.payload());
        assertEquals(PATH, RegularFile.objectPath(DIGEST));
    }

    @Test
    void theSamePathAsAStringIsTheSameFile() {
        RegularFile given = new RegularFile(META, 100, null, PATH, DIGEST);
        RegularFile stored = RegularFile.stored(META, 100, null, DIGEST);
        assertTrue(given.payloadIsObjectPath(), "the constructor recognises the object path");
        assertEquals(stored, given);
        assertEquals(stored.hashCode(), given.hashCode());
    }

    @Test
    void anyOtherPayloadIsKeptAsGiven() {
        for (String other : new String[] {"A7/" + PATH.substring(3), "a7/" + PATH.substring(3, 64) + "1", "a7f1/x",
            PATH + "0", "/" + PATH, "a7" + PATH.substring(3) + "x"}) {
            RegularFile f = new RegularFile(META, 100, null, other, DIGEST);
            assertFalse(f.payloadIsObjectPath(), other);
            assertEquals(other, f.payload());
            assertNotEquals(RegularFile.stored(META, 100, null, DIGEST), f, other);
        }
        RegularFile noDigest = new RegularFile(META, 100, null, PATH, null);
        assertFalse(noDigest.payloadIsObjectPath(), "no digest, nothing to derive the path from");
        assertEquals(PATH, noDigest.payload());
    }
}
