package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/** References read as docker and skopeo read them. */
class ImageReferenceTest {
    @Test
    void registriesTagsAndDigests() throws IOException {
        ImageReference r = ImageReference.parse("localhost:5000/a/b:1.0");
        assertEquals("localhost:5000", r.registry());
        assertEquals("a/b", r.repository());
        assertEquals("1.0", r.tag());
        r = ImageReference.parse("quay.io/x/y@sha256:" + "ab".repeat(32));
        assertEquals("quay.io", r.registry());
        assertNull(r.tag());
        assertEquals("sha256:" + "ab".repeat(32), r.reference());
        r = ImageReference.parse("debian");
        assertEquals("docker.io", r.registry());
        assertEquals("library/debian", r.repository());
        assertEquals("latest", r.tag());
        assertEquals("registry-1.docker.io", r.endpoint());
        r = ImageReference.parse("localhost/x");
        assertEquals("localhost", r.registry());
    }

    @Test
    void invalidOnesAreRefused() {
        assertThrows(IOException.class, () -> ImageReference.parse("127.0.0.1:5000/Upper/case"));
        assertThrows(IOException.class, () -> ImageReference.parse("host.io/x@sha256:abc"));
        assertThrows(IOException.class, () -> ImageReference.parse("host.io/x:bad tag"));
        assertThrows(IOException.class, () -> ImageReference.parse("host.io/x@md5:" + "0".repeat(32)));
    }
}
