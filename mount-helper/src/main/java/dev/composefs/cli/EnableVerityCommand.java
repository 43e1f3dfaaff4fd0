package dev.composefs.cli;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.linux_keyctl_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.sign.ImageSignature;
import dev.composefs.core.sign.KeyMaterial;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateEncodingException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs enable-verity: fs-verity on a file, with a kernel-checked built-in signature if given. */
@Command(name = "enable-verity", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Enable fs-verity on FILE (sha256, 4096-byte blocks), with --signature the file's "
                + "built-in signature (as composefs sign / fsverity sign write it), which the kernel checks against "
                + "its .fs-verity keyring; needs CONFIG_FS_VERITY_BUILTIN_SIGNATURES.",
            "--load-cert=CERT adds a certificate (PEM or DER) to that keyring (add_key(2), as "
                + "'keyctl padd asymmetric \"\" %keyring:.fs-verity'); --read-signature writes FILE's stored "
                + "signature (DER) to standard output."})
final class EnableVerityCommand implements Callable<Integer> {
    private final Main.Io io;

    EnableVerityCommand(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--signature", paramLabel = "SIG", description = "built-in signature to enable fs-verity with")
    Path signature;

    @Option(names = "--load-cert", paramLabel = "CERT", description = "add this certificate to the .fs-verity keyring")
    Path loadCert;

    @Option(names = "--read-signature", description = "write FILE's built-in signature to standard output")
    boolean readSignature;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE")
    Path file;

    @Override
    public Integer call() {
        try {
            if (loadCert != null) {
                int id = linux_keyctl_h.addKey("asymmetric", "", KeyMaterial.certificate(loadCert).getEncoded(),
                        fsVerityKeyring());
                io.err().println("composefs enable-verity: " + loadCert + " added to the .fs-verity keyring as key "
                        + Integer.toHexString(id));
            }
            if (file == null) {
                if (loadCert == null) {
                    throw new Failure(1, "FILE is required (or --load-cert=CERT)");
                }
                return 0;
            }
            int fd = InputFiles.open(file, InputFiles.Kind.REGULAR, "file");
            try {
                if (readSignature) {
                    io.out().write(linux_fsverity_h.readSignature(fd, file.toString()));
                    io.out().flush();
                } else {
                    byte[] sig = signature == null ? null : ImageSignature.read(signature);
                    linux_fsverity_h.enableVerity(fd, file.toString(), sig);
                }
            } finally {
                unistd_h.closeQuietly(fd);
            }
            return 0;
        } catch (Failure f) {
            Main.report(io, "composefs enable-verity: " + f.getMessage(), f);
            return f.exitCode();
        } catch (SyscallException e) {
            Main.report(io, "composefs enable-verity: " + e.getMessage() + explain(e), e);
            return 1;
        } catch (IOException | CertificateEncodingException e) {
            Main.report(io, "composefs enable-verity: " + e.getMessage(), e);
            return 1;
        }
    }

    /** What the kernel's answer means here. */
    private String explain(SyscallException e) {
        if (e.is(Errno.ENOKEY)) {
            return ": the signer's certificate is not in the .fs-verity keyring (load it with --load-cert=CERT)";
        }
        if (e.is(Errno.EKEYREJECTED)) {
            return ": the signature does not verify for this file (another key, or another file's signature)";
        }
        if (e.is(Errno.EBADMSG)) {
            return ": the signature is not a PKCS#7 message the kernel can parse";
        }
        if (e.is(Errno.ENODATA)) {
            return ": the file has no built-in signature";
        }
        if (e.is(Errno.EEXIST)) {
            return ": the file has fs-verity already";
        }
        if (e.is(Errno.EOPNOTSUPP) || e.is(Errno.ENOTTY)) {
            return ": this filesystem has no fs-verity";
        }
        if (e.is(Errno.EINVAL) && signature != null && !Files.exists(Path.of("/proc/sys/fs/verity/require_signatures"))) {
            return ": this kernel has no built-in signatures (CONFIG_FS_VERITY_BUILTIN_SIGNATURES)";
        }
        return "";
    }

    /** The .fs-verity keyring's serial, from /proc/keys (what keyctl's %keyring:.fs-verity resolves). */
    private static int fsVerityKeyring() throws IOException, Failure {
        for (String line : Files.readAllLines(Path.of("/proc/keys"), StandardCharsets.UTF_8)) {
            String[] f = line.trim().split("\\s+", 9);
            if (f.length == 9 && f[7].equals("keyring") && f[8].startsWith(".fs-verity:")) {
                return Integer.parseUnsignedInt(f[0], 16);
            }
        }
        throw new Failure(1, "no .fs-verity keyring in /proc/keys (this kernel has no "
                + "CONFIG_FS_VERITY_BUILTIN_SIGNATURES)");
    }
}
