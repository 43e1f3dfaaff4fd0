package dev.composefs.core.sign;

import dev.composefs.core.util.InputFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.pkcs.RSAPrivateKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/** Private keys and certificates in PEM or DER, as openssl and fsverity-utils write them. */
public final class KeyMaterial {
    private KeyMaterial() {}

    private static final int MAX_FILE = 1 << 20;

    /** A private key (PKCS#8 or PKCS#1/SEC1 PEM, or PKCS#8 DER). Encrypted keys are refused: nothing prompts. */
    public static PrivateKey privateKey(Path file) throws IOException {
        byte[] bytes = read(file, "key");
        try {
            if (isPem(bytes)) {
                Object o;
                try (PEMParser p = new PEMParser(new StringReader(new String(bytes, StandardCharsets.US_ASCII)))) {
                    o = p.readObject();
                }
                JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
                return switch (o) {
                    case PEMKeyPair kp -> conv.getKeyPair(kp).getPrivate();
                    case PrivateKeyInfo info -> conv.getPrivateKey(info);
                    case PEMEncryptedKeyPair ignored -> throw encrypted(file);
                    case PKCS8EncryptedPrivateKeyInfo ignored -> throw encrypted(file);
                    case X509CertificateHolder ignored -> throw new SignatureException(file
                            + ": a certificate, not a private key (--key takes the key, --cert the certificate)");
                    case null -> throw new SignatureException(file + ": no PEM object in the file");
                    default -> throw new SignatureException(file + ": not a private key (" + o.getClass().getSimpleName() + ")");
                };
            }
            if (looksLikeCertificate(bytes)) {
                throw new SignatureException(file + ": a certificate, not a private key (--key takes the key, --cert "
                        + "the certificate)");
            }
            return new JcaPEMKeyConverter().getPrivateKey(derKey(file, bytes));
        } catch (SignatureException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new SignatureException(file + ": not a private key in PEM or DER (PKCS#8, or PKCS#1 for RSA)", e);
        }
    }

    /** PKCS#8 DER, or PKCS#1 DER for RSA (what openssl pkey -outform DER writes for RSA keys). */
    private static PrivateKeyInfo derKey(Path file, byte[] der) throws IOException {
        ASN1Sequence seq = ASN1Sequence.getInstance(der);
        if (seq.size() == 2 && seq.getObjectAt(0) instanceof ASN1Sequence) {
            throw encrypted(file); // EncryptedPrivateKeyInfo: {algorithm, encrypted data}
        }
        if (seq.size() >= 9 && seq.getObjectAt(1) instanceof ASN1Integer) {
            return new PrivateKeyInfo(new AlgorithmIdentifier(PKCSObjectIdentifiers.rsaEncryption, DERNull.INSTANCE),
                    RSAPrivateKey.getInstance(seq));
        }
        return PrivateKeyInfo.getInstance(seq);
    }

    private static SignatureException encrypted(Path file) {
        return new SignatureException(file + ": the private key is encrypted; give an unencrypted key (e.g. "
                + "openssl pkey -in KEY -out PLAIN) — there is no passphrase prompt");
    }

    /** One certificate (PEM or DER): the first one in the file. */
    public static X509Certificate certificate(Path file) throws IOException {
        List<X509Certificate> all = certificates(file);
        if (all.isEmpty()) {
            throw new SignatureException(file + ": no certificate in the file");
        }
        return all.get(0);
    }

    /** Every certificate in a PEM file (there may be several) or the one in a DER file. */
    public static List<X509Certificate> certificates(Path file) throws IOException {
        byte[] bytes = read(file, "certificate");
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> out = new ArrayList<>();
            for (var c : cf.generateCertificates(new ByteArrayInputStream(bytes))) {
                out.add((X509Certificate) c);
            }
            return out;
        } catch (CertificateException | RuntimeException e) {
            throw new SignatureException(file + ": not an X.509 certificate in PEM or DER", e);
        }
    }

    /** --trust: a certificate file, or a directory whose regular files are certificates (PEM or DER). */
    public static List<X509Certificate> trusted(Path fileOrDir) throws IOException {
        if (!Files.isDirectory(fileOrDir)) {
            List<X509Certificate> all = certificates(fileOrDir);
            if (all.isEmpty()) { // an empty file trusts nobody: say so, rather than "none of the 0 trusted"
                throw new SignatureException(fileOrDir + ": no certificate in the file");
            }
            return all;
        }
        List<X509Certificate> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(fileOrDir)) {
            for (Path f : s.filter(Files::isRegularFile).sorted().toList()) {
                out.addAll(certificates(f));
            }
        }
        if (out.isEmpty()) {
            throw new SignatureException(fileOrDir + ": no trusted certificates in this directory");
        }
        return out;
    }

    /** Opened as every input is (no wait on a FIFO, type checked on the fd); a pipe (--key=<(...)) is read too. */
    private static byte[] read(Path file, String what) throws IOException {
        return InputFiles.read(file, MAX_FILE, what + " file");
    }

    private static boolean isPem(byte[] b) {
        return new String(b, 0, Math.min(b.length, 4096), StandardCharsets.US_ASCII).contains("-----BEGIN ");
    }

    private static boolean looksLikeCertificate(byte[] der) {
        try {
            new X509CertificateHolder(der);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** For messages: the subject of a certificate (RFC 2253). */
    public static String subject(X509Certificate cert) {
        return cert.getSubjectX500Principal().getName();
    }
}
