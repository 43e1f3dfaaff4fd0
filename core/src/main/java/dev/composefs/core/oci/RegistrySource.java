package dev.composefs.core.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.composefs.core.util.ChunkedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An image in a registry, through the OCI distribution API: manifests and blobs by GET, with
 * anonymous, basic or bearer-token authentication (the token fetched from the realm the
 * registry's 401 names, with the credentials if any). Redirects are followed by hand so that
 * credentials never go to another host (blob storage behind a redirect gets none).
 */
final class RegistrySource implements ImageSource {
    private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    private static final int MAX_REDIRECTS = 5;

    private final ImageReference ref;
    private final RegistryCredentials credentials;
    private final String base;
    private final boolean insecure;
    private final HttpClient http;
    private volatile String authorization; // the header that last worked, shared by the layer threads

    RegistrySource(ImageReference ref, RegistryCredentials credentials, boolean insecure) {
        this.ref = ref;
        this.credentials = credentials;
        this.base = (insecure ? "http://" : "https://") + ref.endpoint();
        this.insecure = insecure;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // one connection per layer: parallel and predictable
                .connectTimeout(Duration.ofSeconds(30))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    @Override
    public ResolvedImage resolve(Platform platform) throws IOException {
        String name = ref.toString();
        HttpResponse<InputStream> r = get("/v2/" + ref.repository() + "/manifests/" + ref.reference(), MediaTypes.ACCEPT,
                "manifest " + ref.reference());
        byte[] bytes = body(r, Manifests.DOCUMENT_MAX, "manifest " + ref.reference());
        String type = r.headers().firstValue("Content-Type").map(t -> t.split(";")[0].trim()).orElse(null);
        Descriptor top = ref.digest() != null ? new Descriptor(type, ref.digest(), bytes.length) : null;
        return Manifests.resolve(name, top, bytes, type, new Manifests.Fetcher() {
            @Override
            public byte[] manifest(Descriptor d) throws IOException {
                return body(get("/v2/" + ref.repository() + "/manifests/" + d.digest(), MediaTypes.ACCEPT,
                        "manifest " + d.digest()), Manifests.DOCUMENT_MAX, "manifest " + d.digest());
            }

            @Override
            public byte[] blob(Descriptor d) throws IOException {
                return body(get(blobPath(d), null, "blob " + d.digest()), Manifests.DOCUMENT_MAX, "blob " + d.digest());
            }

            @Override
            public LayerBlob.Opener layer(Descriptor d) {
                return () -> {
                    String what = "layer " + d.digest();
                    return new Interrupted(get(blobPath(d), null, what).body(), what, d.size());
                };
            }
        }, platform);
    }

    private String blobPath(Descriptor d) {
        return "/v2/" + ref.repository() + "/blobs/" + d.digest();
    }

    /** A GET that authenticates when asked to and follows redirects; any status but 200 is an error naming what. */
    private HttpResponse<InputStream> get(String path, String accept, String what) throws IOException {
        URI uri = URI.create(base + path);
        boolean sameHost = true;
        boolean authenticated = false;
        for (int hop = 0; hop <= MAX_REDIRECTS; ) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET();
            if (accept != null) {
                b.header("Accept", accept);
            }
            String auth = authorization;
            if (sameHost && auth != null) {
                b.header("Authorization", auth);
            }
            HttpResponse<InputStream> r = send(b.build(), what);
            int status = r.statusCode();
            if (status == 200) {
                return r;
            }
            if (status == 401 && sameHost && !authenticated) {
                String challenge = r.headers().firstValue("WWW-Authenticate").orElse("");
                drain(r);
                authenticate(challenge, what);
                authenticated = true;
                continue;
            }
            if (status >= 300 && status < 400 && r.headers().firstValue("Location").isPresent()) {
                drain(r);
                String location = r.headers().firstValue("Location").get();
                URI from = uri;
                try {
                    uri = uri.resolve(location);
                } catch (IllegalArgumentException e) {
                    throw new IOException(ref.registry() + ": " + what + ": redirected to an address that is no URI: "
                            + shown(location));
                }
                if (!"https".equalsIgnoreCase(uri.getScheme()) && !"http".equalsIgnoreCase(uri.getScheme())) {
                    throw new IOException(ref.registry() + ": " + what + ": redirected to " + shown(location)
                            + ", which is no http or https address");
                }
                sameHost = sameHost && credentialsFollow(URI.create(base), from, uri);
                hop++;
                continue;
            }
            String detail = errorDetail(r);
            throw new IOException(ref.registry() + ": " + what + " of " + ref.repository() + ": " + switch (status) {
                case 401 -> "authentication required or refused" + (credentials == null ? " (give --creds or --authfile)" : "");
                case 403 -> "access denied";
                case 404 -> "not found";
                default -> "HTTP " + status;
            } + detail);
        }
        throw new IOException(ref.registry() + ": " + what + ": more than " + MAX_REDIRECTS + " redirects");
    }

    private HttpResponse<InputStream> send(HttpRequest req, String what) throws IOException {
        try {
            return http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(ref.registry() + ": " + what + ": interrupted");
        } catch (IOException e) {
            String msg = e instanceof ConnectException ? "cannot connect to " + req.uri().getAuthority()
                    + " (" + (e.getMessage() != null ? e.getMessage() : "connection refused") + ")"
                    : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw new IOException(ref.registry() + ": " + what + ": " + msg
                    + (base.startsWith("https:") && msg.toLowerCase().contains("ssl") ? " (a plain-http registry needs --insecure)" : ""), e);
        }
    }

    /** Answers a 401 challenge: Basic with the credentials, or Bearer with a token from the named realm. */
    private void authenticate(String challenge, String what) throws IOException {
        String scheme = challenge.split(" ", 2)[0];
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(challenge);
        while (m.find()) {
            params.put(m.group(1).toLowerCase(), m.group(2));
        }
        if (scheme.equalsIgnoreCase("Basic")) {
            if (credentials == null) {
                throw new IOException(ref.registry() + ": " + what + ": the registry asks for a user name and password "
                        + "(give --creds or --authfile)");
            }
            authorization = credentials.basic();
            return;
        }
        if (!scheme.equalsIgnoreCase("Bearer") || params.get("realm") == null) {
            throw new IOException(ref.registry() + ": " + what + ": unsupported authentication challenge '" + challenge + "'");
        }
        StringBuilder q = new StringBuilder();
        if (params.containsKey("service")) {
            q.append("service=").append(URLEncoder.encode(params.get("service"), StandardCharsets.UTF_8));
        }
        String scope = params.getOrDefault("scope", "repository:" + ref.repository() + ":pull");
        q.append(q.isEmpty() ? "" : "&").append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        URI realm;
        URI tokenUri;
        try {
            realm = URI.create(params.get("realm"));
            tokenUri = URI.create(realm + (realm.getQuery() == null ? "?" : "&") + q);
        } catch (IllegalArgumentException e) {
            throw new IOException(ref.registry() + ": " + what + ": the token realm is no URI: " + shown(params.get("realm")));
        }
        if (!"https".equalsIgnoreCase(realm.getScheme()) && !"http".equalsIgnoreCase(realm.getScheme())) {
            throw new IOException(ref.registry() + ": " + what + ": the token realm " + shown(realm.toString())
                    + " is no http or https address");
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(tokenUri).GET();
        if (credentials != null && credentialsToRealm(URI.create(base), realm, insecure)) {
            b.header("Authorization", credentials.basic());
        }
        HttpResponse<InputStream> r = send(b.build(), "token for " + what);
        if (r.statusCode() != 200) {
            String detail = errorDetail(r);
            throw new IOException(ref.registry() + ": token service " + realm.getHost() + " refused (HTTP "
                    + r.statusCode() + ")" + (credentials == null ? " (give --creds or --authfile)" : "") + detail);
        }
        Map<String, Object> json = JsonDocument.parse(body(r, 1 << 20, "token"), "token from " + realm.getHost());
        Object token = json.get("token") instanceof String t ? t : json.get("access_token");
        if (!(token instanceof String t) || t.isEmpty()) {
            throw new IOException(ref.registry() + ": token service " + realm.getHost() + " sent no token");
        }
        authorization = "Bearer " + t;
    }

    /** Whether a redirect from from to to keeps the credentials: the registry's host:port, never https to http. */
    static boolean credentialsFollow(URI base, URI from, URI to) {
        return to.getAuthority() != null && to.getAuthority().equalsIgnoreCase(base.getAuthority())
                && !("https".equalsIgnoreCase(from.getScheme()) && "http".equalsIgnoreCase(to.getScheme()));
    }

    /**
     * Whether the token realm the registry names gets the credentials: over https on the
     * registry's own host, or anywhere with --insecure, which trusts this registry and its token
     * service as they are.
     */
    static boolean credentialsToRealm(URI base, URI realm, boolean insecure) {
        return insecure || ("https".equalsIgnoreCase(realm.getScheme()) && realm.getHost() != null
                && realm.getHost().equalsIgnoreCase(base.getHost()));
    }

    /** A server-given string as a message shows it: cut, and without control characters. */
    private static String shown(String s) {
        String clean = s.replaceAll("\\p{Cntrl}", "?");
        return clean.length() <= 200 ? clean : clean.substring(0, 200) + "...";
    }

    private byte[] body(HttpResponse<InputStream> r, int max, String what) throws IOException {
        try (InputStream in = r.body()) {
            byte[] b = in.readNBytes(max + 1);
            if (b.length > max) {
                throw new IOException(ref.registry() + ": " + what + ": larger than " + max + " bytes");
            }
            return b;
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(ref.registry())) {
                throw e;
            }
            throw new IOException(ref.registry() + ": " + what + ": connection lost: " + e.getMessage(), e);
        }
    }

    /** The registry's own error message ({"errors":[{"message":...}]}), if it sent one. */
    private String errorDetail(HttpResponse<InputStream> r) {
        try (InputStream in = r.body()) {
            byte[] b = in.readNBytes(1 << 16);
            Object errors = JSON.std.mapFrom(b).get("errors");
            if (errors instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map<?, ?> e && e.get("message") != null) {
                return ": " + e.get("message");
            }
        } catch (IOException | RuntimeException e) {
            // no JSON error body: the status says it
        }
        return "";
    }

    private static void drain(HttpResponse<InputStream> r) {
        try (InputStream in = r.body()) {
            in.readNBytes(1 << 16);
        } catch (IOException ignored) {
            // the connection is not reused then
        }
    }

    /** A blob body whose read errors and early end say that the connection was lost, and how far it got. */
    private final class Interrupted extends ChunkedInputStream {
        private final InputStream in;
        private final String what;
        private final long size;
        private long count;

        Interrupted(InputStream in, String what, long size) {
            this.in = in;
            this.what = what;
            this.size = size;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = in.read(b, off, len);
            } catch (IOException e) {
                throw lost(e.getMessage(), e);
            }
            if (n < 0 && count < size) {
                throw lost("closed early", null);
            }
            if (n > 0) {
                count += n;
            }
            return n;
        }

        private IOException lost(String why, IOException cause) {
            return new IOException(ref.registry() + ": " + what + ": connection lost after " + count + " of " + size
                    + " bytes (" + why + "); no image was written: run the pull again (objects stored so far are reused)", cause);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
