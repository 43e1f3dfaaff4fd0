package dev.composefs.core.oci;

import java.io.IOException;
import java.util.Map;

/**
 * An OCI content descriptor: media type, digest and size of a blob or manifest.
 *
 * @param platform the index entry's platform object, or null
 * @param annotations the descriptor's annotations (never null)
 */
public record Descriptor(String mediaType, Digest digest, long size, Map<String, Object> platform,
        Map<String, Object> annotations) {
    public Descriptor(String mediaType, Digest digest, long size) {
        this(mediaType, digest, size, null, Map.of());
    }

    /** A descriptor from its JSON object; where names the document it is in. */
    @SuppressWarnings("unchecked")
    static Descriptor of(Object json, String where) throws IOException {
        if (!(json instanceof Map<?, ?> m)) {
            throw new IOException(where + ": a descriptor is not a JSON object");
        }
        Object mt = m.get("mediaType");
        Object size = m.get("size");
        if (!(size instanceof Number n) || n.longValue() < 0) {
            throw new IOException(where + ": descriptor without a valid size");
        }
        Object platform = m.get("platform");
        Object annotations = m.get("annotations");
        return new Descriptor(mt instanceof String s ? s : null, Digest.parse((String) str(m.get("digest")), where),
                n.longValue(), platform instanceof Map<?, ?> p ? (Map<String, Object>) p : null,
                annotations instanceof Map<?, ?> a ? (Map<String, Object>) a : Map.of());
    }

    private static Object str(Object o) {
        return o instanceof String ? o : null;
    }
}
