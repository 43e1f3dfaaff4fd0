package dev.composefs.core.oci;

import java.io.IOException;
import java.io.InputStream;

/**
 * One layer of an image as its source offers it: how to open the blob, and what it must hash to.
 * (Its compression is told by the blob's magic, not by its media type.)
 *
 * @param digest the blob's digest from its descriptor (null where the source has none: a docker
 *     archive lists layers by file name)
 * @param size the blob's size from its descriptor, or -1
 * @param diffId the digest of the uncompressed tar, from the image config's rootfs.diff_ids
 */
public record LayerBlob(Digest digest, long size, Digest diffId, Opener opener) {
    /** Opens the blob's raw (possibly compressed) bytes from the start. */
    public interface Opener {
        InputStream open() throws IOException;
    }

    /** How messages name this layer. */
    public String name() {
        return "layer " + (digest != null ? digest : diffId);
    }
}
