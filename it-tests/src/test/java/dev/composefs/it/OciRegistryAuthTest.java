package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * composefs oci pull from Debian's docker-registry with authentication, both ways a registry
 * asks for it: basic (an htpasswd file, bcrypt as the registry requires) and bearer tokens from
 * a token service (the registry's token auth, trusting a certificate made with openssl; the
 * service is this test's, issuing ES256 JWTs as the distribution token spec describes).
 */
class OciRegistryAuthTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "s3cret:with:colons";

    @TempDir
    static Path tmp;
    static Path layout;
    static String expected;

    @BeforeAll
    static void build() throws Exception {
        OciImportTest.assumeTools();
        layout = tmp.resolve("layout");
        Cli.Result r = Cli.run(List.of("/bin/bash", Cli.repo().resolve("it-tests/oci/build-layout.sh").toString(),
                layout.toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        expected = OciImportTest.imported(OciImportTest.oci("import", "--print-digest", "--store=" + tmp.resolve("ref-store"),
                "oci:" + layout + ":base", tmp.resolve("ref.cfs").toString()));
    }

    private static Cli.Result pull(String host, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("pull", "--insecure", "--print-digest", "--store=" + tmp.resolve("store")));
        args.addAll(List.of(options));
        args.addAll(List.of(host + "/test/base:1", tmp.resolve("pulled.cfs").toString()));
        return OciImportTest.oci(args.toArray(String[]::new));
    }

    private static void assertRefused(Cli.Result r, String text) {
        assertEquals(1, r.exit(), r.stderr());
        List<String> err = OciImportTest.errors(r);
        assertEquals(1, err.size(), r.stderr());
        assertTrue(err.get(0).contains(text), err.get(0));
    }

    /** Anonymous refused; --creds, --authfile and REGISTRY_AUTH_FILE accepted; a wrong password refused. */
    private static void pullsOnlyWithCredentials(String host) throws Exception {
        assertRefused(pull(host), "--creds or --authfile");
        assertEquals(expected, OciImportTest.imported(pull(host, "--creds=" + USER + ":" + PASSWORD)));
        Path auth = tmp.resolve("auth.json");
        Files.writeString(auth, JSON.std.asString(Map.of("auths", Map.of(host, Map.of("auth",
                Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)))))));
        assertEquals(expected, OciImportTest.imported(pull(host, "--authfile=" + auth)));
        Cli.Result env = Cli.run(List.of(Cli.repo().resolve("bin/composefs").toString(), "oci", "pull", "--insecure",
                "--print-digest", "--store=" + tmp.resolve("store"), host + "/test/base:1", tmp.resolve("env.cfs").toString()),
                null, Map.of("REGISTRY_AUTH_FILE", auth.toString()));
        assertEquals(expected, OciImportTest.imported(env));
        assertRefused(pull(host, "--creds=" + USER + ":wrong"), "refused");
    }

    @Test
    void basicAuthentication() throws Exception {
        Path htpasswd = tmp.resolve("htpasswd");
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        Files.writeString(htpasswd, USER + ":" + OpenBSDBCrypt.generate("2y", PASSWORD.toCharArray(), salt, 10) + "\n");
        try (Registry registry = Registry.start(tmp.resolve("registry-basic"), """
                  htpasswd:
                    realm: test-realm
                    path: %s
                """.formatted(htpasswd))) {
            registry.push(layout, "base", "test/base:1", "--dest-creds", USER + ":" + PASSWORD);
            pullsOnlyWithCredentials(registry.host());
        }
    }

    @Test
    void bearerTokens() throws Exception {
        Path key = tmp.resolve("token.key");
        Path cert = tmp.resolve("token.crt");
        Cli.Result gen = Cli.run("/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=test token issuer");
        assertEquals(0, gen.exit(), gen.stderr());
        PrivateKey signer = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pem(key)));
        String x5c = Base64.getEncoder().encodeToString(pem(cert));
        AtomicInteger anonymous = new AtomicInteger();
        HttpServer tokens = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        tokens.createContext("/token", ex -> {
            Map<String, String> q = new LinkedHashMap<>();
            for (String kv : ex.getRequestURI().getRawQuery().split("&")) {
                String[] p = kv.split("=", 2);
                q.put(p[0], URLDecoder.decode(p[1], StandardCharsets.UTF_8));
            }
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String good = "Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
            if (auth != null && !auth.equals(good)) {
                ex.sendResponseHeaders(401, -1);
                ex.close();
                return;
            }
            List<Map<String, Object>> access = new ArrayList<>();
            if (auth == null) {
                anonymous.incrementAndGet(); // anonymous: a token that grants nothing
            } else if (q.containsKey("scope")) {
                String[] scope = q.get("scope").split(":");
                access.add(Map.of("type", scope[0], "name", scope[1], "actions", List.of(scope[2].split(","))));
            }
            String token = jwt(signer, x5c, q.get("service"), auth == null ? "" : USER, access);
            byte[] body = JSON.std.asBytes(Map.of("token", token));
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        tokens.start();
        try (Registry registry = Registry.start(tmp.resolve("registry-token"), """
                  token:
                    realm: http://127.0.0.1:%d/token
                    service: test-registry
                    issuer: test-issuer
                    rootcertbundle: %s
                """.formatted(tokens.getAddress().getPort(), cert))) {
            registry.push(layout, "base", "test/base:1", "--dest-creds", USER + ":" + PASSWORD);
            pullsOnlyWithCredentials(registry.host());
            assertTrue(anonymous.get() > 0, "the anonymous pull asked the token service");
        } finally {
            tokens.stop(0);
        }
    }

    private static String jwt(PrivateKey key, String x5c, String service, String subject, List<Map<String, Object>> access)
            throws java.io.IOException {
        long now = System.currentTimeMillis() / 1000;
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString(JSON.std.asBytes(Map.of("typ", "JWT", "alg", "ES256", "x5c", List.of(x5c))));
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("iss", "test-issuer");
        claims.put("sub", subject);
        claims.put("aud", service);
        claims.put("exp", now + 300);
        claims.put("nbf", now - 10);
        claims.put("iat", now);
        claims.put("jti", UUID.randomUUID().toString());
        claims.put("access", access);
        String payload = b64.encodeToString(JSON.std.asBytes(claims));
        try {
            Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
            s.initSign(key);
            s.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
            return header + "." + payload + "." + b64.encodeToString(s.sign());
        } catch (java.security.GeneralSecurityException e) {
            throw new java.io.IOException(e);
        }
    }

    private static byte[] pem(Path p) throws java.io.IOException {
        String s = Files.readString(p).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(s);
    }
}
