package dev.composefs.core.oci;

import java.util.List;

/**
 * An image resolved for one platform: its config (already checked against its digest) and its
 * layers, lowest first.
 *
 * @param manifestDigest the digest of the manifest it came from, or null (a docker archive has none)
 */
public record ResolvedImage(String name, Digest manifestDigest, byte[] config, List<LayerBlob> layers) {}
