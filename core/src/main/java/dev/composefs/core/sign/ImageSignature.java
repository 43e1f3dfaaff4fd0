package dev.composefs.core.sign;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSSignatureEncryptionAlgorithmFinder;
import org.bouncycastle.cms.DefaultCMSSignatureEncryptionAlgorithmFinder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

/**
 * fs-verity built-in signatures of composefs images: DER PKCS#7 SignedData over struct
 * fsverity_formatted_digest of the image, detached, without certificates or signed attributes,
 * one signer identified by issuer and serial number; digest algorithms with NULL parameters and,
 * for RSA, rsaEncryption as the signature algorithm. That is what {@code fsverity sign} writes
 * and what the kernel's PKCS#7 parser takes, byte for byte for RSA keys (PKCS#1 v1.5 is
 * deterministic). ECDSA keys sign too, for userspace verification only: the kernel takes RSA.
 */
public final class ImageSignature {
    private ImageSignature() {}

    /** The largest signature the kernel takes (FS_IOC_ENABLE_VERITY), and so the most read from a file. */
    public static final int MAX_SIZE = 16128;

    /** A signature file, bounded by {@link #MAX_SIZE}; every failure is a SignatureException naming the file. */
    public static byte[] read(Path file) throws SignatureException {
        try {
            return InputFiles.read(file, MAX_SIZE, "signature");
        } catch (IOException e) {
            throw e instanceof SignatureException s ? s : new SignatureException(e.getMessage(), e);
        }
    }

    /** The signature of an image whose fs-verity digest (with alg) is digest. */
    public static byte[] sign(PrivateKey key, X509Certificate cert, FsVerity.Alg alg, byte[] digest)
            throws SignatureException {
        byte[] content = FsVerity.formattedDigest(alg, digest);
        boolean rsa = key.getAlgorithm().equals("RSA");
        String hash = alg == FsVerity.Alg.SHA256 ? "SHA256" : "SHA512";
        if (!rsa && !key.getAlgorithm().equals("EC")) {
            throw new SignatureException("unsupported key type " + key.getAlgorithm() + " (RSA or ECDSA keys sign images)");
        }
        try {
            ContentSigner signer = new JcaContentSignerBuilder(hash + (rsa ? "withRSA" : "withECDSA")).build(key);
            // RSA: the kernel's PKCS#7 parser knows the signer's key algorithm (rsaEncryption), not
            // sha256WithRSAEncryption; ECDSA keeps BC's default
            CMSSignatureEncryptionAlgorithmFinder finder = rsa
                    ? sigAlg -> new AlgorithmIdentifier(PKCSObjectIdentifiers.rsaEncryption, DERNull.INSTANCE)
                    : new DefaultCMSSignatureEncryptionAlgorithmFinder();
            JcaSignerInfoGeneratorBuilder info = new JcaSignerInfoGeneratorBuilder(
                    new JcaDigestCalculatorProviderBuilder().build(), finder)
                    .setDirectSignature(true) // no signed attributes, as fsverity sign
                    .setContentDigest(new AlgorithmIdentifier(digestOid(alg), DERNull.INSTANCE));
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(info.build(signer, cert));
            return gen.generate(new CMSProcessableByteArray(content), false).getEncoded("DER");
        } catch (OperatorCreationException | CMSException | CertificateEncodingException
                | IOException | RuntimeException e) {
            throw new SignatureException("cannot sign with this key and certificate (" + e.getClass().getSimpleName()
                    .replace("Exception", "") + ": " + e.getMessage() + ")", e);
        }
    }

    /** Who signed, as the certificate that verified it names its subject; and over which algorithm. */
    public record Signer(X509Certificate certificate, FsVerity.Alg alg) {
        public String subject() {
            return KeyMaterial.subject(certificate);
        }
    }

    /** Which fs-verity algorithm a signature is over (its digest algorithm): parse only, no trust. */
    public static FsVerity.Alg algorithm(byte[] signature) throws SignatureException {
        try {
            return alg(onlySigner(parse(signature, null)).getDigestAlgOID());
        } catch (IllegalArgumentException | IllegalStateException | ClassCastException | IndexOutOfBoundsException e) {
            throw malformed(e); // Bouncy Castle parses parts of the DER lazily, and says so with these
        }
    }

    private static SignatureException malformed(Exception e) {
        return new SignatureException("not a PKCS#7 signature (malformed DER)", e);
    }

    /**
     * Checks signature over the image whose fs-verity digest with {@link #algorithm} is digest,
     * against the trusted certificates. checkTime: also refuse a certificate outside its
     * validity period (the kernel does not check it). Every refusal names its reason.
     */
    public static Signer verify(byte[] signature, byte[] digest, Collection<X509Certificate> trusted, boolean checkTime)
            throws SignatureException {
        try {
            return check(signature, digest, trusted, checkTime);
        } catch (IllegalArgumentException | IllegalStateException | ClassCastException | IndexOutOfBoundsException e) {
            throw malformed(e); // Bouncy Castle parses parts of the DER lazily, and says so with these
        }
    }

    private static Signer check(byte[] signature, byte[] digest, Collection<X509Certificate> trusted, boolean checkTime)
            throws SignatureException {
        FsVerity.Alg alg = algorithm(signature);
        byte[] content = FsVerity.formattedDigest(alg, digest);
        SignerInformation si = onlySigner(parse(signature, content));
        boolean known = false;
        for (X509Certificate cert : trusted) {
            if (!si.getSID().match(holder(cert))) {
                continue;
            }
            known = true;
            try {
                if (si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(cert))) {
                    if (checkTime) {
                        try {
                            cert.checkValidity();
                        } catch (CertificateException e) {
                            throw new SignatureException("the signer's certificate (" + KeyMaterial.subject(cert)
                                    + ") is not valid now: " + e.getMessage());
                        }
                    }
                    return new Signer(cert, alg);
                }
            } catch (CMSException | OperatorCreationException e) {
                // another certificate may match; the refusal below says what failed
            }
        }
        throw new SignatureException(known
                ? "the signature does not match this image (fs-verity " + alg.name().toLowerCase(Locale.ROOT)
                        + " digest " + FsVerity.hex(digest) + "): the image or the signature was changed"
                : "the signer (" + si.getSID().getIssuer() + ", serial " + si.getSID().getSerialNumber()
                        + ") is none of the " + trusted.size() + " trusted certificates");
    }

    private static X509CertificateHolder holder(X509Certificate cert) throws SignatureException {
        try {
            return new JcaX509CertificateHolder(cert);
        } catch (CertificateEncodingException e) {
            throw new SignatureException("unusable trusted certificate: " + e.getMessage(), e);
        }
    }

    private static CMSSignedData parse(byte[] signature, byte[] content) throws SignatureException {
        try {
            return content == null ? new CMSSignedData(signature)
                    : new CMSSignedData(new CMSProcessableByteArray(content), signature);
        } catch (CMSException | IllegalArgumentException | IllegalStateException | ClassCastException
                | IndexOutOfBoundsException e) {
            throw malformed(e);
        }
    }

    private static SignerInformation onlySigner(CMSSignedData data) throws SignatureException {
        List<SignerInformation> signers = List.copyOf(data.getSignerInfos().getSigners());
        if (signers.size() != 1) {
            throw new SignatureException("the signature has " + signers.size() + " signers; fs-verity signatures have one");
        }
        return signers.get(0);
    }

    private static ASN1ObjectIdentifier digestOid(FsVerity.Alg alg) {
        return alg == FsVerity.Alg.SHA256 ? NISTObjectIdentifiers.id_sha256 : NISTObjectIdentifiers.id_sha512;
    }

    private static FsVerity.Alg alg(String oid) throws SignatureException {
        if (oid.equals(NISTObjectIdentifiers.id_sha256.getId())) {
            return FsVerity.Alg.SHA256;
        }
        if (oid.equals(NISTObjectIdentifiers.id_sha512.getId())) {
            return FsVerity.Alg.SHA512;
        }
        throw new SignatureException("unsupported digest algorithm " + oid + " (fs-verity signs sha256 or sha512)");
    }
}
