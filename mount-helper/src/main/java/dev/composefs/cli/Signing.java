package dev.composefs.cli;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.sign.SignatureException;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** What composefs sign and verify share: the hash option, the image digest, the signature file. */
final class Signing {
    private Signing() {}

    /** Largest signature file read: the kernel takes at most 16128 bytes. */
    private static final long MAX_SIGNATURE = 16128;

    static FsVerity.Alg alg(String name) throws Failure {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "sha256" -> FsVerity.Alg.SHA256;
            case "sha512" -> FsVerity.Alg.SHA512;
            default -> throw new Failure(1, "--hash-alg=" + name + ": expected sha256 or sha512");
        };
    }

    /** The image's fs-verity digest with alg (the image is metadata: read whole, bounded). */
    static byte[] digest(Path image, FsVerity.Alg alg) throws IOException {
        FsVerity v = new FsVerity(alg);
        v.update(InputFiles.read(image, InputFiles.MAX_IMAGE_SIZE, "image"));
        return v.digest();
    }

    static byte[] readSignature(Path file) throws IOException {
        try {
            return InputFiles.read(file, MAX_SIGNATURE, "signature");
        } catch (IOException e) {
            throw new SignatureException(e.getMessage(), e);
        }
    }
}
