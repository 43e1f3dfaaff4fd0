package dev.composefs.core.oci;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Resolves an index or manifest to one image: an index entry for the platform, its manifest,
 * its config. Every document is checked against the digest it was reached by before it is
 * parsed; the layers come out as descriptors to be checked when they are read.
 */
final class Manifests {
    private Manifests() {}

    /** Largest manifest, index or config read into memory (registries refuse manifests over 4 MiB). */
    static final int DOCUMENT_MAX = 16 << 20;

    /** How a source reaches manifests, configs and layers. */
    interface Fetcher {
        byte[] manifest(Descriptor d) throws IOException;

        byte[] blob(Descriptor d) throws IOException;

        LayerBlob.Opener layer(Descriptor d);
    }

    /**
     * From a top-level document already fetched (bytes, and its media type where the transport
     * said one); top, when known, is the descriptor it must match.
     */
    static ResolvedImage resolve(String name, Descriptor top, byte[] bytes, String mediaType, Fetcher fetcher,
            Platform platform) throws IOException {
        Digest digest = top != null ? top.digest() : Digest.sha256(bytes);
        if (top != null) {
            check(bytes, top, name + " manifest " + top.digest());
        }
        for (int depth = 0; ; depth++) {
            String where = name + " " + digest.shortForm();
            Map<String, Object> doc = JsonDocument.parse(bytes, where);
            String type = doc.get("mediaType") instanceof String s ? s : mediaType;
            if (type != null && (type.equals(MediaTypes.DOCKER_V1) || type.equals(MediaTypes.DOCKER_V1_SIGNED))) {
                throw new IOException(where + ": Docker schema 1 manifests are not supported (the image is too old)");
            }
            if (MediaTypes.INDEXES.contains(type) || type == null && doc.get("manifests") instanceof List) {
                if (depth > 4) {
                    throw new IOException(where + ": indexes nested too deeply");
                }
                Descriptor d = choose(doc, platform, where);
                bytes = fetcher.manifest(d);
                check(bytes, d, name + " manifest " + d.digest());
                digest = d.digest();
                mediaType = d.mediaType();
                continue;
            }
            if (type != null && !MediaTypes.MANIFESTS.contains(type)) {
                throw new IOException(where + ": media type " + type + " is not a container image manifest");
            }
            return image(name, doc, fetcher, where);
        }
    }

    private static ResolvedImage image(String name, Map<String, Object> doc, Fetcher fetcher, String where)
            throws IOException {
        Descriptor configDesc = Descriptor.of(doc.get("config"), where + " config");
        if (configDesc.size() > DOCUMENT_MAX) {
            throw new IOException(where + ": config of " + configDesc.size() + " bytes (at most " + DOCUMENT_MAX + ")");
        }
        byte[] config = fetcher.blob(configDesc);
        check(config, configDesc, name + " config " + configDesc.digest());
        List<Digest> diffIds = diffIds(config, name + " config " + configDesc.digest().shortForm());
        if (!(doc.get("layers") instanceof List<?> layers)) {
            throw new IOException(where + ": manifest without layers");
        }
        if (layers.size() != diffIds.size()) {
            throw new IOException(where + ": " + layers.size() + " layers but " + diffIds.size()
                    + " rootfs.diff_ids in the config");
        }
        List<LayerBlob> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Descriptor d = Descriptor.of(layers.get(i), where + " layer " + i);
            if (d.mediaType() != null && !MediaTypes.LAYERS.contains(d.mediaType())) {
                throw new IOException(where + ": layer " + d.digest() + " has media type " + d.mediaType()
                        + ", not a filesystem layer");
            }
            out.add(new LayerBlob(d.digest(), d.size(), diffIds.get(i), fetcher.layer(d)));
        }
        return new ResolvedImage(name, config, out);
    }

    /** The uncompressed layer digests an image config lists (rootfs.diff_ids). */
    static List<Digest> diffIds(byte[] config, String where) throws IOException {
        Map<String, Object> c = JsonDocument.parse(config, where);
        if (!(c.get("rootfs") instanceof Map<?, ?> rootfs) || !(rootfs.get("diff_ids") instanceof List<?> ids)) {
            throw new IOException(where + ": no rootfs.diff_ids (not an image config)");
        }
        List<Digest> out = new ArrayList<>();
        for (Object id : ids) {
            out.add(Digest.parse(id instanceof String s ? s : null, where + " rootfs.diff_ids"));
        }
        return out;
    }

    private static Descriptor choose(Map<String, Object> index, Platform platform, String where) throws IOException {
        if (!(index.get("manifests") instanceof List<?> list)) {
            throw new IOException(where + ": index without manifests");
        }
        List<String> offered = new ArrayList<>();
        for (Object o : list) {
            Descriptor d = Descriptor.of(o, where);
            if (platform.matches(d.platform())) {
                return d;
            }
            if (d.platform() != null) {
                offered.add(d.platform().get("os") + "/" + d.platform().get("architecture"));
            }
        }
        if (list.size() == 1 && ((Descriptor.of(list.get(0), where)).platform() == null)) {
            return Descriptor.of(list.get(0), where); // a single entry that names no platform
        }
        throw new IOException(where + ": no image for " + platform + " (the index offers " + offered + ")");
    }

    static void check(byte[] bytes, Descriptor d, String what) throws IOException {
        if (bytes.length != d.size()) {
            throw new IOException(what + ": " + bytes.length + " bytes, its descriptor gives " + d.size());
        }
        if (!d.digest().matches(bytes)) {
            throw new IOException(what + ": content does not match its digest; refused");
        }
    }

}
