package dev.composefs.core.oci;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** An OCI content digest ({@code sha256:<64 hex>} or {@code sha512:<128 hex>}), checked when parsed. */
public record Digest(String algorithm, String hex) {
    /** Parses s; where names what carries it in the error. */
    public static Digest parse(String s, String where) throws IOException {
        int colon = s == null ? -1 : s.indexOf(':');
        if (colon < 0) {
            throw new IOException(where + ": '" + s + "' is not a digest (expected sha256:<hex>)");
        }
        String alg = s.substring(0, colon);
        String hex = s.substring(colon + 1);
        int length = switch (alg) {
            case "sha256" -> 64;
            case "sha512" -> 128;
            default -> throw new IOException(where + ": digest algorithm '" + alg + "' is not supported "
                    + "(sha256 and sha512 are)");
        };
        if (hex.length() != length || !hex.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
            throw new IOException(where + ": '" + s + "' is not a valid " + alg + " digest");
        }
        return new Digest(alg, hex);
    }

    public static Digest sha256(byte[] data) {
        return new Digest("sha256", HexFormat.of().formatHex(newMessageDigest("sha256").digest(data)));
    }

    /** A MessageDigest for this digest's algorithm. */
    public MessageDigest newMessageDigest() {
        return newMessageDigest(algorithm);
    }

    static MessageDigest newMessageDigest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm.equals("sha256") ? "SHA-256" : "SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no " + algorithm, e);
        }
    }

    /** Whether data hashes to this digest. */
    public boolean matches(byte[] data) {
        return hex.equals(HexFormat.of().formatHex(newMessageDigest().digest(data)));
    }

    /** The hex part cut for messages. */
    public String shortForm() {
        return algorithm + ":" + hex.substring(0, 12);
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}
