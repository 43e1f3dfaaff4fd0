package dev.composefs.core.oci;

import java.io.IOException;
import java.util.regex.Pattern;

/**
 * A registry image reference, {@code [REGISTRY/]REPO[:TAG][@DIGEST]}, read as docker does: the
 * first component is a registry when it has a dot or a colon or is {@code localhost}; otherwise
 * the image is on Docker Hub ({@code library/} added to one-component names).
 *
 * @param registry host[:port] as given (Docker Hub: {@code docker.io})
 * @param tag the tag, or null when only a digest is given
 * @param digest the digest, or null
 */
public record ImageReference(String registry, String repository, String tag, Digest digest) {
    private static final Pattern REPO = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    public static final String DOCKER_HUB = "docker.io";

    public static ImageReference parse(String s) throws IOException {
        String rest = s;
        Digest digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            digest = Digest.parse(rest.substring(at + 1), s);
            rest = rest.substring(0, at);
        }
        String registry = DOCKER_HUB;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
                registry = first;
                rest = rest.substring(slash + 1);
            }
        }
        String tag = null;
        int colon = rest.lastIndexOf(':');
        if (colon >= 0) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw new IOException(s + ": '" + tag + "' is not a valid tag");
            }
        }
        if (!REPO.matcher(rest).matches()) {
            throw new IOException(s + ": '" + rest + "' is not a valid repository name (lowercase letters, digits, "
                    + "separators)");
        }
        if (registry.equals(DOCKER_HUB) && !rest.contains("/")) {
            rest = "library/" + rest;
        }
        if (tag == null && digest == null) {
            tag = "latest";
        }
        return new ImageReference(registry, rest, tag, digest);
    }

    /** What the manifest endpoint is asked for: the digest if given, else the tag. */
    String reference() {
        return digest != null ? digest.toString() : tag;
    }

    /** The host requests go to (Docker Hub's API is not at docker.io itself). */
    String endpoint() {
        return registry.equals(DOCKER_HUB) ? "registry-1.docker.io" : registry;
    }

    @Override
    public String toString() {
        return registry + "/" + repository + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
    }
}
