package dev.composefs.cli;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** What composefs sign and verify share: the hash option and the image digest. */
final class Signing {
    private Signing() {}

    static FsVerity.Alg alg(String name) throws Failure {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "sha256" -> FsVerity.Alg.SHA256;
            case "sha512" -> FsVerity.Alg.SHA512;
            default -> throw new Failure(1, "--hash-alg=" + name + ": expected sha256 or sha512");
        };
    }

    /** The image's fs-verity digest with alg (the image is metadata: read whole, bounded). */
    static byte[] digest(Path image, FsVerity.Alg alg) throws IOException {
        return FsVerity.of(InputFiles.read(image, InputFiles.MAX_IMAGE_SIZE, "image"), alg);
    }
}
