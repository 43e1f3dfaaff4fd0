package dev.composefs.core.oci;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An OCI image layout directory ({@code index.json}, {@code blobs/ALG/HEX}), as umoci and
 * skopeo write it. The image is the index entry whose {@code org.opencontainers.image.ref.name}
 * is the tag, or the only entry when no tag is given.
 */
final class LayoutSource implements ImageSource {
    private static final String REF_NAME = "org.opencontainers.image.ref.name";

    private final Path dir;
    private final String tag;

    private LayoutSource(Path dir, String tag) {
        this.dir = dir;
        this.tag = tag;
    }

    /** DIR[:TAG], split at the first colon as skopeo does. */
    static LayoutSource open(String spec) throws IOException {
        int colon = spec.indexOf(':');
        String path = colon < 0 ? spec : spec.substring(0, colon);
        String tag = colon < 0 || colon == spec.length() - 1 ? null : spec.substring(colon + 1);
        if (path.isEmpty()) {
            throw new IOException("oci:" + spec + ": no layout directory given");
        }
        Path dir = Path.of(path);
        if (!Files.isRegularFile(dir.resolve("oci-layout"))) {
            throw new IOException(dir + ": not an OCI image layout (no oci-layout file)");
        }
        return new LayoutSource(dir, tag);
    }

    @Override
    public ResolvedImage resolve(Platform platform) throws IOException {
        String name = "oci:" + dir + (tag != null ? ":" + tag : "");
        Path indexPath = dir.resolve("index.json");
        byte[] index = read(indexPath, Manifests.DOCUMENT_MAX);
        Map<String, Object> doc = JsonDocument.parse(index, indexPath.toString());
        if (!(doc.get("manifests") instanceof List<?> entries)) {
            throw new IOException(indexPath + ": no manifests");
        }
        List<Descriptor> candidates = new ArrayList<>();
        List<String> tags = new ArrayList<>();
        for (Object o : entries) {
            Descriptor d = Descriptor.of(o, indexPath.toString());
            Object ref = d.annotations().get(REF_NAME);
            if (ref != null) {
                tags.add(ref.toString());
            }
            if (tag == null || tag.equals(ref)) {
                candidates.add(d);
            }
        }
        if (candidates.size() != 1) {
            throw new IOException(name + ": " + (candidates.isEmpty() ? "no image tagged " + tag
                    : "several images; name one by tag") + " (tags: " + String.join(", ", tags) + ")");
        }
        Descriptor top = candidates.get(0);
        return Manifests.resolve(name, top, blob(top), top.mediaType(), fetcher(), platform);
    }

    private Manifests.Fetcher fetcher() {
        return new Manifests.Fetcher() {
            @Override
            public byte[] manifest(Descriptor d) throws IOException {
                return blob(d);
            }

            @Override
            public byte[] blob(Descriptor d) throws IOException {
                return LayoutSource.this.blob(d);
            }

            @Override
            public LayerBlob.Opener layer(Descriptor d) {
                return () -> Files.newInputStream(blobPath(d.digest()));
            }
        };
    }

    private byte[] blob(Descriptor d) throws IOException {
        if (d.size() > Manifests.DOCUMENT_MAX) {
            throw new IOException(blobPath(d.digest()) + ": " + d.size() + " bytes, too large for a manifest or config");
        }
        return read(blobPath(d.digest()), (int) d.size() + 1);
    }

    /** Digests are validated hex, so the path stays inside blobs/. */
    private Path blobPath(Digest digest) {
        return dir.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex());
    }

    private static byte[] read(Path p, int max) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(max + 1);
            if (b.length > max) {
                throw new IOException(p + ": larger than " + max + " bytes");
            }
            return b;
        } catch (NoSuchFileException e) {
            throw new IOException(p + ": missing from the layout");
        }
    }

    @Override
    public void close() {}
}
