package dev.composefs.cli;

import dev.composefs.core.sign.ImageSignature;
import dev.composefs.core.sign.KeyMaterial;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs verify: whether a trusted certificate's key signed this image. */
@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Check SIGNATURE (an fs-verity PKCS#7 signature, as composefs sign or fsverity sign write "
                + "it) over IMAGE against trusted certificates. Exit 0 and the signer's subject when a trusted "
                + "certificate's key signed IMAGE's fs-verity digest; exit 1 with the reason otherwise."})
final class VerifyCommand implements Callable<Integer> {
    private final Main.Io io;

    VerifyCommand(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--trust", required = true, paramLabel = "CERT|DIR",
            description = "a trusted certificate, or a directory of them (PEM or DER)")
    Path trust;

    @Option(names = "--check-time", description = "also refuse a signer whose certificate is expired or not yet "
            + "valid (the kernel does not check this)")
    boolean checkTime;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "SIGNATURE")
    Path signature;

    @Override
    public Integer call() {
        try {
            var trusted = KeyMaterial.trusted(trust);
            byte[] sig = ImageSignature.read(signature);
            var signer = ImageSignature.verify(sig, Signing.digest(image, ImageSignature.algorithm(sig)), trusted,
                    checkTime);
            io.out().write(("signed by " + signer.subject() + "\n").getBytes(StandardCharsets.UTF_8));
            io.out().flush();
            return 0;
        } catch (IOException e) {
            Main.report(io, "composefs verify: " + e.getMessage(), e);
            return 1;
        }
    }
}
