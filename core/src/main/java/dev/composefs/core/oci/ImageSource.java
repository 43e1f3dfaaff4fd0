package dev.composefs.core.oci;

import java.io.IOException;
import java.nio.file.Path;

/** Where an image comes from: an OCI layout, a docker archive, a registry. */
public interface ImageSource extends AutoCloseable {
    /** The image for this platform, with its config checked against its digest. */
    ResolvedImage resolve(Platform platform) throws IOException;

    @Override
    void close() throws IOException;

    /**
     * A source by its transport name, as skopeo spells them: {@code oci:DIR[:TAG]} or
     * {@code docker-archive:FILE[:REPO:TAG]}.
     */
    /**
     * An image in a registry, REGISTRY/REPO[:TAG|@DIGEST]; creds is USER:PASSWORD or null,
     * authFile a containers auth.json or null; insecure means plain http.
     */
    static ImageSource registry(String reference, String creds, Path authFile, boolean insecure)
            throws IOException {
        ImageReference ref = ImageReference.parse(reference);
        return new RegistrySource(ref, RegistryCredentials.lookup(ref.registry(), creds, authFile), insecure);
    }

    static ImageSource local(String spec) throws IOException {
        if (spec.startsWith("oci:")) {
            return LayoutSource.open(spec.substring(4));
        }
        if (spec.startsWith("docker-archive:")) {
            return ArchiveSource.open(spec.substring(15));
        }
        throw new IOException(spec + ": unknown source (expected oci:DIR[:TAG] or docker-archive:FILE[:REPO:TAG])");
    }
}
