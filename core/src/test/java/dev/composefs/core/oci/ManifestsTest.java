package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Resolving an index or manifest to one image, through a source that serves documents by the
 * digests that name them (computed here with the JDK's SHA-256), and refusing what does not hold.
 */
class ManifestsTest {
    private static final Platform AMD64 = new Platform("linux", "amd64", null);
    private final Map<String, byte[]> blobs = new HashMap<>();

    /** Stores a document and returns its descriptor JSON. */
    private String add(String mediaType, String json, String extra) throws Exception {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        String digest = "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        blobs.put(digest, bytes);
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + digest + "\",\"size\":" + bytes.length
                + (extra == null ? "" : "," + extra) + "}";
    }

    private final Manifests.Fetcher fetcher = new Manifests.Fetcher() {
        @Override
        public byte[] manifest(Descriptor d) throws IOException {
            return blob(d);
        }

        @Override
        public byte[] blob(Descriptor d) throws IOException {
            byte[] b = blobs.get(d.digest().toString());
            if (b == null) {
                throw new IOException("not found: " + d.digest());
            }
            return b;
        }

        @Override
        public LayerBlob.Opener layer(Descriptor d) {
            return () -> {
                throw new IOException("layers are not read here");
            };
        }
    };

    private static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static final String DIFF_A = "sha256:" + "a".repeat(64);
    private static final String DIFF_B = "sha256:" + "b".repeat(64);

    private String manifest(String config, String... layers) {
        return "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":" + config
                + ",\"layers\":[" + String.join(",", layers) + "]}";
    }

    private String config(String... diffIds) throws Exception {
        return add("application/vnd.oci.image.config.v1+json", "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
                + String.join("\",\"", diffIds) + "\"]}}", null);
    }

    private ResolvedImage resolve(String top) throws IOException {
        byte[] bytes = top.getBytes(StandardCharsets.UTF_8);
        return Manifests.resolve("test", null, bytes, null, fetcher, AMD64);
    }

    private String message(String top) {
        return assertThrows(IOException.class, () -> resolve(top)).getMessage();
    }

    @Test
    void anIndexResolvesToThisPlatformsManifestConfigAndLayers() throws Exception {
        String layerA = "{\"mediaType\":\"" + LAYER_TYPE + "\",\"digest\":\"sha256:" + "1".repeat(64) + "\",\"size\":10}";
        String layerB = "{\"mediaType\":\"" + LAYER_TYPE + "\",\"digest\":\"sha256:" + "2".repeat(64) + "\",\"size\":20}";
        String amd = add(MediaTypes.OCI_MANIFEST, manifest(config(DIFF_A, DIFF_B), layerA, layerB),
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}");
        String arm = add(MediaTypes.OCI_MANIFEST, manifest(config(DIFF_A), layerA),
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}");
        ResolvedImage image = resolve("{\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + arm + "," + amd + "]}");
        assertEquals(2, image.layers().size());
        assertEquals(DIFF_B, image.layers().get(1).diffId().toString());
        assertEquals(20, image.layers().get(1).size());
        String s390 = message("{\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + arm + "]}");
        assertTrue(s390.endsWith("no image for linux/amd64 (the index offers [linux/arm64])"), s390);
    }

    @Test
    void aDocumentThatDoesNotMatchItsDescriptorIsRefused() throws Exception {
        String cfg = config(DIFF_A);
        String layer = "{\"mediaType\":\"" + LAYER_TYPE + "\",\"digest\":\"sha256:" + "1".repeat(64) + "\",\"size\":10}";
        String digest = cfg.replaceAll(".*\"(sha256:[0-9a-f]{64})\".*", "$1");
        // the same length, other bytes: only the digest tells
        blobs.put(digest, ("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + DIFF_B + "\"]}}").getBytes(StandardCharsets.UTF_8));
        String tampered = message(manifest(cfg, layer));
        assertEquals("test config " + digest + ": content does not match its digest; refused", tampered);
        // a manifest reached through an index is checked the same way
        String m = add(MediaTypes.OCI_MANIFEST, manifest(config(DIFF_A), layer), "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}");
        String mDigest = m.replaceAll(".*\"(sha256:[0-9a-f]{64})\".*", "$1");
        byte[] original = blobs.get(mDigest);
        byte[] changed = original.clone();
        changed[changed.length - 2] = ' ';
        blobs.put(mDigest, changed);
        String index = "{\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + m + "]}";
        assertTrue(message(index).endsWith("content does not match its digest; refused"), message(index));
    }

    @Test
    void whatIsNotAnImageIsRefusedNamingWhy() throws Exception {
        String layer = "{\"mediaType\":\"" + LAYER_TYPE + "\",\"digest\":\"sha256:" + "1".repeat(64) + "\",\"size\":10}";
        assertTrue(message(manifest(config(DIFF_A, DIFF_B), layer)).endsWith("1 layers but 2 rootfs.diff_ids in the config"));
        String helm = "{\"mediaType\":\"application/vnd.cncf.helm.chart.content.v1.tar+gzip\",\"digest\":\"sha256:"
                + "3".repeat(64) + "\",\"size\":5}";
        assertTrue(message(manifest(config(DIFF_A), helm)).contains("not a filesystem layer"));
        assertTrue(message("{\"schemaVersion\":1,\"mediaType\":\"" + MediaTypes.DOCKER_V1 + "\"}")
                .contains("Docker schema 1 manifests are not supported"));
        assertTrue(message("{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":"
                + config(DIFF_A) + "}").endsWith("manifest without layers"));
        String notConfig = add("application/vnd.oci.image.config.v1+json", "{\"architecture\":\"amd64\"}", null);
        assertTrue(message(manifest(notConfig, layer)).endsWith("no rootfs.diff_ids (not an image config)"));
        // an index whose only entry is an index, and so on: refused after a few levels
        String level = add(MediaTypes.OCI_MANIFEST, manifest(config(DIFF_A), layer), "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}");
        for (int i = 0; i < 6; i++) {
            level = add(MediaTypes.OCI_INDEX, "{\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + level + "]}",
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}");
        }
        String deep = message("{\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + level + "]}");
        assertTrue(deep.endsWith("indexes nested too deeply"), deep);
    }
}
