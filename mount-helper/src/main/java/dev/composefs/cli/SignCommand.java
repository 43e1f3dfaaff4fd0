package dev.composefs.cli;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.sign.ImageSignature;
import dev.composefs.core.sign.KeyMaterial;
import dev.composefs.core.util.AtomicFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs sign: the fs-verity built-in signature of an image, as fsverity sign writes it. */
@Command(name = "sign", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Sign IMAGE: write the DER PKCS#7 signature of its fs-verity digest to SIGNATURE "
                + "(byte for byte what 'fsverity sign' writes for an RSA key).",
            "Keys and certificates in PEM or DER; an encrypted key is refused (nothing prompts). ECDSA keys "
                + "sign for userspace verification (composefs verify, mount -o signature=) only: the kernel's "
                + "fs-verity keyring takes RSA signatures."})
final class SignCommand implements Callable<Integer> {
    private final Main.Io io;

    SignCommand(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--key", required = true, paramLabel = "KEY", description = "private key (PEM or DER)")
    Path key;

    @Option(names = "--cert", required = true, paramLabel = "CERT", description = "the key's certificate (PEM or DER)")
    Path cert;

    @Option(names = "--hash-alg", paramLabel = "ALG", description = "fs-verity hash: sha256 (default) or sha512")
    String hashAlg = "sha256";

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "SIGNATURE")
    Path signature;

    @Override
    public Integer call() {
        try {
            FsVerity.Alg alg = Signing.alg(hashAlg);
            byte[] digest = Signing.digest(image, alg);
            byte[] sig = ImageSignature.sign(KeyMaterial.privateKey(key), KeyMaterial.certificate(cert), alg, digest);
            try {
                AtomicFile.write(signature, sig);
            } catch (IOException e) {
                throw new Failure(1, signature + ": cannot write the signature: " + e.getMessage(), e);
            }
            return 0;
        } catch (Failure f) {
            Main.report(io, "composefs sign: " + f.getMessage(), f);
            return f.exitCode();
        } catch (IOException e) {
            Main.report(io, "composefs sign: " + e.getMessage(), e);
            return 1;
        }
    }
}
