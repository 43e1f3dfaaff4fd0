package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.sys_mount_h;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Image signatures against the real peers: keys and certificates made with openssl, signatures
 * compared byte for byte with fsverity-utils' `fsverity sign`, checked by `openssl cms -verify`,
 * and fsverity's own signatures verified; every refusal names its reason; mounts with
 * signature= on this kernel.
 */
class SignatureTest {
    @TempDir
    static Path tmp;
    static Path image;
    static Path store;
    static Path src;

    private static String run(String... cmd) throws Exception {
        Cli.Result r = Cli.run(List.of(cmd), null, Map.of());
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r.stderr());
        return r.out();
    }

    private static Path key(String name, String... genpkeyArgs) throws Exception {
        Path key = tmp.resolve(name + ".key.pem");
        Path cert = tmp.resolve(name + ".cert.pem");
        List<String> gen = new java.util.ArrayList<>(List.of("/usr/bin/openssl", "genpkey", "-out", key.toString()));
        gen.addAll(List.of(genpkeyArgs));
        run(gen.toArray(String[]::new));
        run("/usr/bin/openssl", "req", "-new", "-x509", "-key", key.toString(), "-out", cert.toString(), "-days", "30",
                "-subj", "/CN=" + name);
        return key;
    }

    private static Path cert(String name) {
        return tmp.resolve(name + ".cert.pem");
    }

    @BeforeAll
    static void setUp() throws Exception {
        Infra.requireTool("openssl");
        Infra.requireTool("fsverity");
        key("release", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        key("other", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        key("ec", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256");
        src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("hello"), "hello\n");
        Files.writeString(src.resolve("big"), "b".repeat(10_000));
        store = tmp.resolve("store");
        image = tmp.resolve("image.cfs");
        run(Cli.repo().resolve("bin/mkcomposefs").toString(), "--digest-store=" + store, src.toString(), image.toString());
    }

    private static Cli.Result composefs(String... args) throws Exception {
        List<String> argv = new java.util.ArrayList<>(List.of("composefs"));
        argv.addAll(List.of(args));
        return Cli.run(argv, null, Map.of());
    }

    @Test
    void byteIdenticalToFsveritySignForRsa() throws Exception {
        Path key = tmp.resolve("release.key.pem");
        Path keyDer = tmp.resolve("release.key.der");
        Path certDer = tmp.resolve("release.cert.der");
        run("/usr/bin/openssl", "pkey", "-in", key.toString(), "-outform", "DER", "-out", keyDer.toString());
        run("/usr/bin/openssl", "x509", "-in", cert("release").toString(), "-outform", "DER", "-out", certDer.toString());
        for (String alg : List.of("sha256", "sha512")) {
            Path ref = tmp.resolve("ref-" + alg + ".sig");
            run("/usr/bin/fsverity", "sign", image.toString(), ref.toString(), "--key=" + key, "--cert=" + cert("release"),
                    "--hash-alg=" + alg);
            for (List<Path> kc : List.of(List.of(key, cert("release")), List.of(keyDer, certDer))) {
                Path ours = tmp.resolve("ours-" + alg + ".sig");
                Cli.Result r = composefs("sign", "--key=" + kc.get(0), "--cert=" + kc.get(1), "--hash-alg=" + alg,
                        image.toString(), ours.toString());
                assertEquals(0, r.exit(), r.stderr());
                assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(ours), alg + " with " + kc);
            }
            // and fsverity's signature verifies with ours
            Cli.Result v = composefs("verify", "--trust=" + cert("release"), image.toString(), ref.toString());
            assertEquals(0, v.exit(), v.stderr());
            assertEquals("signed by CN=release\n", v.out());
        }
        // mkcomposefs signs in the same run, the same bytes
        Path signed = tmp.resolve("signed.cfs");
        Cli.Result mk = Cli.run("mkcomposefs", "--sign-key=" + key, "--sign-cert=" + cert("release"), src.toString(),
                signed.toString());
        assertEquals(0, mk.exit(), mk.stderr());
        Path ref = tmp.resolve("signed-ref.sig");
        run("/usr/bin/fsverity", "sign", signed.toString(), ref.toString(), "--key=" + key, "--cert=" + cert("release"));
        assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(tmp.resolve("signed.cfs.sig")));
    }

    @Test
    void opensslVerifiesOurSignatures() throws Exception {
        for (String who : List.of("release", "ec")) {
            Path sig = tmp.resolve("openssl-" + who + ".sig");
            Cli.Result r = composefs("sign", "--key=" + tmp.resolve(who + ".key.pem"), "--cert=" + cert(who),
                    image.toString(), sig.toString());
            assertEquals(0, r.exit(), r.stderr());
            Path content = tmp.resolve("formatted.bin");
            String hex = run("/usr/bin/fsverity", "digest", image.toString(), "--compact", "--for-builtin-sig").trim();
            Files.write(content, java.util.HexFormat.of().parseHex(hex));
            Cli.Result v = Cli.run(List.of("/usr/bin/openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                    sig.toString(), "-content", content.toString(), "-certfile", cert(who).toString(), "-nointern",
                    "-noverify", "-out", "/dev/null"), null, Map.of());
            assertEquals(0, v.exit(), who + ": " + v.stderr());
            Cli.Result ours = composefs("verify", "--trust=" + cert(who), image.toString(), sig.toString());
            assertEquals("signed by CN=" + who + "\n", ours.out(), ours.stderr());
        }
        assertTrue(composefs("sign", "--help").out().contains("the kernel's fs-verity keyring takes RSA"));
    }

    @Test
    void everyRefusalNamesItsReason() throws Exception {
        Path sig = tmp.resolve("refusal.sig");
        assertEquals(0, composefs("sign", "--key=" + tmp.resolve("release.key.pem"), "--cert=" + cert("release"),
                image.toString(), sig.toString()).exit());
        byte[] good = Files.readAllBytes(sig);
        Path changed = Files.write(tmp.resolve("changed.cfs"), Files.readAllBytes(image));
        Files.write(changed, new byte[] {0}, java.nio.file.StandardOpenOption.APPEND);
        Path truncated = Files.write(tmp.resolve("truncated.sig"), java.util.Arrays.copyOf(good, good.length / 2));
        byte[] flippedBytes = good.clone();
        flippedBytes[flippedBytes.length - 10] ^= 0x40; // inside the RSA signature value
        Path flipped = Files.write(tmp.resolve("flipped.sig"), flippedBytes);
        Path emptyDir = Files.createDirectories(tmp.resolve("empty-trust"));
        Path encrypted = tmp.resolve("encrypted.key.pem");
        run("/usr/bin/openssl", "pkey", "-in", tmp.resolve("release.key.pem").toString(), "-aes256", "-passout",
                "pass:secret", "-out", encrypted.toString());
        record Case(List<String> args, String reason) {}
        for (Case c : List.of(
                new Case(List.of("verify", "--trust=" + cert("release"), changed.toString(), sig.toString()),
                        "does not match this image"),
                new Case(List.of("verify", "--trust=" + cert("other"), image.toString(), sig.toString()),
                        "none of the 1 trusted certificates"),
                new Case(List.of("verify", "--trust=" + cert("release"), image.toString(), truncated.toString()),
                        "malformed"),
                new Case(List.of("verify", "--trust=" + cert("release"), image.toString(), flipped.toString()),
                        "does not match this image"),
                new Case(List.of("verify", "--trust=" + emptyDir, image.toString(), sig.toString()),
                        "no trusted certificates"),
                new Case(List.of("sign", "--key=" + cert("release"), "--cert=" + cert("release"), image.toString(),
                        tmp.resolve("x.sig").toString()), "a certificate, not a private key"),
                new Case(List.of("sign", "--key=" + encrypted, "--cert=" + cert("release"), image.toString(),
                        tmp.resolve("x.sig").toString()), "encrypted"))) {
            Cli.Result r = composefs(c.args().toArray(String[]::new));
            assertEquals(1, r.exit(), c + ": " + r.out() + r.stderr());
            assertTrue(r.stderr().contains(c.reason()), c + ": " + r.stderr());
            assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), r.stderr());
        }
        assertFalse(Files.exists(tmp.resolve("x.sig")), "nothing written by a failed sign");
    }

    /** signature= on a real mount: verified on the bytes mounted, before anything is mounted. */
    @Test
    void mountsOnlyWhatATrustedKeySigned() throws Exception {
        MountGuard.assumeMountable();
        MountGuard guard = new MountGuard();
        guard.snapshot();
        try {
            Path sig = tmp.resolve("mount.sig");
            assertEquals(0, composefs("sign", "--key=" + tmp.resolve("release.key.pem"), "--cert=" + cert("release"),
                    image.toString(), sig.toString()).exit());
            Path mnt = guard.mountpoint(tmp, "signed");
            // this host's stores have no fs-verity: signature= implies verity, tryverity relaxes the objects only
            Cli.Result r = Cli.run(List.of("mount.composefs", "-v", image.toString(), mnt.toString(), "-o",
                    "basedir=" + store + ",signature=" + sig + ",trust=" + cert("release") + ",tryverity"), null, Map.of());
            assertEquals(0, r.exit(), r.stderr());
            assertTrue(r.stderr().contains("signed by CN=release"), r.stderr());
            assertEquals("hello\n", Files.readString(mnt.resolve("hello")));
            // the file changing on disk afterwards changes nothing: the sealed copy was verified and mounted
            Files.write(image.resolveSibling("image.cfs"), new byte[4096]);
            assertEquals("hello\n", Files.readString(mnt.resolve("hello")));
            sys_mount_h.umount2(mnt.toString(), 0);
            run(Cli.repo().resolve("bin/mkcomposefs").toString(), "--digest-store=" + store, src.toString(),
                    image.toString());

            List<String[]> refusals = new java.util.ArrayList<>(List.of(
                    new String[] {"signature=" + tmp.resolve("refusal-missing.sig") + ",trust=" + cert("release"), "signature"},
                    new String[] {"signature=" + sig + ",trust=" + cert("other"), "none of the 1 trusted"},
                    new String[] {"signature=" + sig + ",trust=" + cert("release"), "verity requested but"}));
            if (!Files.isDirectory(Path.of("/etc/composefs/trust.d"))) { // the default trust= is absent here
                refusals.add(new String[] {"signature=" + sig, "no trust= given, and no /etc/composefs/trust.d directory"
                        + " of trusted certificates; nothing was mounted"});
            }
            for (String[] c : refusals) {
                Cli.Result bad = Cli.run(List.of("mount.composefs", image.toString(), mnt.toString(), "-o",
                        "basedir=" + store + "," + c[0]), null, Map.of());
                assertEquals(32, bad.exit(), c[0] + ": " + bad.stderr());
                assertTrue(bad.stderr().contains(c[1]), c[0] + ": " + bad.stderr());
                assertFalse(MountGuard.mounted(mnt), "nothing mounted for " + c[0]);
            }
        } finally {
            guard.nothingLeftBehind();
        }
    }
}
