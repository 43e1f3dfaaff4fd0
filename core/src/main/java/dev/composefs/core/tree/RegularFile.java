package dev.composefs.core.tree;

import java.util.HexFormat;

/**
 * A regular file. Either its content is inline ({@code content} non-null, length == size) or it
 * is backed by a file in the object store: {@code payload} is the path relative to the store
 * (e.g. {@code ab/cdef...}) and {@code digest} its fs-verity digest (32 bytes), each optional.
 */
public record RegularFile(Meta meta, long size, byte[] content, String payload, byte[] digest) implements Node {
    /**
     * The payload field of a file whose payload is its digest's object path, as every file a
     * scan or an OCI import stores has: one shared marker instead of a 65-character string per
     * file, all of them live until the image is written.
     * {@link #payload()} spells the path out. The constructor turns such a path given as a
     * string into the marker too, so equal files stay equal whichever way they were made.
     */
    private static final String OBJECT_PATH = new String("(the digest's object path)");

    public RegularFile {
        if (payload != null && payload != OBJECT_PATH && digest != null && isObjectPath(payload, digest)) {
            payload = OBJECT_PATH;
        }
    }

    /** An empty file: no content, no payload. */
    public static RegularFile empty(Meta meta) {
        return new RegularFile(meta, 0, null, null, null);
    }

    /** A file backed by the store object of its digest (content: inline as well, or null). */
    public static RegularFile stored(Meta meta, long size, byte[] content, byte[] digest) {
        if (digest == null || digest.length != 32) {
            throw new IllegalArgumentException("a stored file needs its 32-byte fs-verity digest");
        }
        return new RegularFile(meta, size, content, OBJECT_PATH, digest);
    }

    public boolean isInline() {
        return content != null;
    }

    @Override
    public String payload() {
        return payload == OBJECT_PATH ? objectPath(digest) : payload;
    }

    /** Whether the payload is the object path of the digest ({@link #objectPath}). */
    public boolean payloadIsObjectPath() {
        return payload == OBJECT_PATH;
    }

    /** Where the object with this fs-verity digest lives in a store: {@code XX/<62 more hex digits>}. */
    public static String objectPath(byte[] digest) {
        String hex = HexFormat.of().formatHex(digest);
        return hex.substring(0, 2) + "/" + hex.substring(2);
    }

    /** Whether path is objectPath(digest), compared without making that string. */
    private static boolean isObjectPath(String path, byte[] digest) {
        if (digest.length != 32 || path.length() != 65 || path.charAt(2) != '/') {
            return false;
        }
        for (int i = 0, at = 0; i < 32; i++, at += 2) {
            if (at == 2) {
                at = 3;
            }
            if (path.charAt(at) != hexDigit(digest[i] >> 4) || path.charAt(at + 1) != hexDigit(digest[i])) {
                return false;
            }
        }
        return true;
    }

    /** The lower-case hex digit of the low four bits of b. */
    public static char hexDigit(int b) {
        return "0123456789abcdef".charAt(b & 15);
    }
}
