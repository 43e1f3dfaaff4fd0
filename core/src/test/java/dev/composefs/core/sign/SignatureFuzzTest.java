package dev.composefs.core.sign;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.MutationFuzz;
import dev.composefs.core.fsverity.FsVerity;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import java.util.Random;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/**
 * The signature parser against mutated signatures (the project's seeded runner): truncated,
 * bit-flipped, bytes replaced. Every input either verifies as the original did (a mutation in a
 * part that is not signed, such as padding the DER parser ignores, cannot change the signer) or
 * is refused with a SignatureException; nothing else escapes.
 */
class SignatureFuzzTest {
    @Test
    void mutatedSignaturesOnlyEverFailAsSignatureException() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048, new java.security.SecureRandom(new byte[] {1}));
        KeyPair kp = g.generateKeyPair();
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                new X500Name("CN=fuzz"), BigInteger.ONE, new Date(0), new Date(4102444800000L), new X500Name("CN=fuzz"),
                kp.getPublic()).build(new JcaContentSignerBuilder("SHA256withRSA").build(kp.getPrivate())));
        byte[] digest = FsVerity.of("image".getBytes());
        byte[] digest512 = FsVerity.of("image".getBytes(), FsVerity.Alg.SHA512);
        byte[] sha256 = ImageSignature.sign(kp.getPrivate(), cert, FsVerity.Alg.SHA256, digest);
        byte[] sha512 = ImageSignature.sign(kp.getPrivate(), cert, FsVerity.Alg.SHA512, digest512);
        // both seeds verify as they are: their mutations' refusals are the mutations', not the seeds'
        assertEquals("CN=fuzz", ImageSignature.verify(sha256, digest, List.of(cert), false).subject());
        assertEquals("CN=fuzz", ImageSignature.verify(sha512, digest512, List.of(cert), false).subject());
        int rejected = MutationFuzz.run(List.of(sha256, sha512), 1500, new Random(0x51647), SignatureFuzzTest::mutate,
                SignatureException.class, 5, sig -> ImageSignature.verify(sig,
                        ImageSignature.algorithm(sig) == FsVerity.Alg.SHA512 ? digest512 : digest, List.of(cert), false));
        assertTrue(rejected > 2500, "nearly every mutation is refused (" + rejected + " of 3000)");
    }

    /** With the time checked (composefs verify --check-time), an expired signer is refused, naming why. */
    @Test
    void anExpiredSignerIsRefusedWhenTheTimeIsChecked() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        KeyPair kp = g.generateKeyPair();
        X509Certificate expired = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                new X500Name("CN=old"), BigInteger.TWO, new Date(0), new Date(86_400_000L), new X500Name("CN=old"),
                kp.getPublic()).build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
        byte[] digest = FsVerity.of("image".getBytes());
        byte[] sig = ImageSignature.sign(kp.getPrivate(), expired, FsVerity.Alg.SHA256, digest);
        assertEquals("CN=old", ImageSignature.verify(sig, digest, List.of(expired), false).subject(),
                "without the time check, as the kernel does");
        SignatureException e = org.junit.jupiter.api.Assertions.assertThrows(SignatureException.class,
                () -> ImageSignature.verify(sig, digest, List.of(expired), true));
        assertTrue(e.getMessage().contains("(CN=old) is not valid now"), e.getMessage());
    }

    private static byte[] mutate(byte[] sig, Random rnd) {
        byte[] m = sig.clone();
        switch (rnd.nextInt(3)) {
            case 0 -> {
                return MutationFuzz.truncate(m, rnd);
            }
            case 1 -> MutationFuzz.flipBits(m, rnd);
            default -> MutationFuzz.randomByte(m, rnd);
        }
        return m;
    }
}
