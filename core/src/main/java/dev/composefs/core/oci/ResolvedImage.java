package dev.composefs.core.oci;

import java.util.List;

/**
 * An image resolved for one platform: its config (already checked against its digest) and its
 * layers, lowest first.
 */
public record ResolvedImage(String name, byte[] config, List<LayerBlob> layers) {}
