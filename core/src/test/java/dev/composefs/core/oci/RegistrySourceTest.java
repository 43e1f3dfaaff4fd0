package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The registry client's redirects and token realms, against HTTP servers on 127.0.0.1 that
 * answer as a hostile registry would: credentials go nowhere they should not, and an answer it
 * cannot follow is one line saying what happened.
 */
class RegistrySourceTest {
    private final Map<String, String> seen = new ConcurrentHashMap<>(); // path -> Authorization header
    private HttpServer registry;
    private HttpServer other;

    @AfterEach
    void stop() {
        for (HttpServer s : new HttpServer[] {registry, other}) {
            if (s != null) {
                s.stop(0);
            }
        }
    }

    private HttpServer server(Consumer<HttpExchange> handler) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.createContext("/", e -> {
            seen.put(e.getRequestURI().getPath(), String.valueOf(e.getRequestHeaders().getFirst("Authorization")));
            handler.accept(e);
            e.close();
        });
        s.start();
        return s;
    }

    private static void reply(HttpExchange e, int status, Map<String, String> headers) {
        try {
            headers.forEach((k, v) -> e.getResponseHeaders().add(k, v));
            e.sendResponseHeaders(status, -1);
        } catch (IOException x) {
            throw new java.io.UncheckedIOException(x);
        }
    }

    private RegistrySource source(HttpServer s, boolean insecure) throws IOException {
        ImageReference ref = ImageReference.parse("127.0.0.1:" + s.getAddress().getPort() + "/app:1");
        return new RegistrySource(ref, new RegistryCredentials("user", "secret"), insecure);
    }

    private String failure(RegistrySource src) {
        return assertThrows(IOException.class, () -> src.resolve(Platform.current())).getMessage();
    }

    @Test
    void aRedirectToAnotherSchemeIsOneLineSayingSo() throws Exception {
        registry = server(e -> reply(e, 302, Map.of("Location", "ftp://127.0.0.1/x")));
        String message = failure(source(registry, true));
        assertTrue(message.endsWith("redirected to ftp://127.0.0.1/x, which is no http or https address"), message);
    }

    /** Where the credentials go: the token realm the registry names, and the hops of a redirect. */
    @Test
    void credentialsGoOnlyWhereTheyShould() {
        java.net.URI registry = java.net.URI.create("https://registry.example:5000");
        java.net.URI http = java.net.URI.create("http://registry.example:5000");
        assertTrue(RegistrySource.credentialsToRealm(registry, java.net.URI.create("https://registry.example/token"), false));
        assertFalse(RegistrySource.credentialsToRealm(registry, java.net.URI.create("http://registry.example/token"), false),
                "a realm over plain http");
        assertFalse(RegistrySource.credentialsToRealm(registry, java.net.URI.create("https://auth.example/token"), false),
                "a realm on another host");
        assertTrue(RegistrySource.credentialsToRealm(http, java.net.URI.create("http://auth.example/token"), true),
                "--insecure: the registry and its token service are trusted as they are");
        java.net.URI same = java.net.URI.create("https://registry.example:5000/v2/x");
        assertTrue(RegistrySource.credentialsFollow(registry, same, java.net.URI.create("https://registry.example:5000/y")));
        assertFalse(RegistrySource.credentialsFollow(registry, same, java.net.URI.create("http://registry.example:5000/y")),
                "https to http on the same host:port");
        assertFalse(RegistrySource.credentialsFollow(registry, same, java.net.URI.create("https://registry.example:5001/y")));
        assertFalse(RegistrySource.credentialsFollow(registry, same, java.net.URI.create("https://blobs.example/y")));
    }

    /** With --insecure the realm the registry names, on another port and over plain http, gets them. */
    @Test
    void anInsecureRegistrysRealmGetsTheCredentials() throws Exception {
        other = server(e -> reply(e, 403, Map.of()));
        String realm = "http://localhost:" + other.getAddress().getPort() + "/token";
        registry = server(e -> reply(e, 401, Map.of("WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"r\"")));
        String message = failure(source(registry, true));
        assertTrue(message.contains("token service localhost refused (HTTP 403)"), message);
        assertEquals("Basic " + java.util.Base64.getEncoder().encodeToString("user:secret".getBytes()), seen.get("/token"));
    }
}
