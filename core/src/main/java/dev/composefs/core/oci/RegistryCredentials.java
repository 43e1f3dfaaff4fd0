package dev.composefs.core.oci;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/** A user name and password for a registry, and where they are found. */
record RegistryCredentials(String user, String password) {
    /** The Authorization header value for basic authentication. */
    String basic() {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Credentials for a registry: from USER[:PASSWORD] if given, else from the auth file given,
     * else from the files skopeo and docker read ($REGISTRY_AUTH_FILE,
     * $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json);
     * null for anonymous access.
     */
    static RegistryCredentials lookup(String registry, String creds, Path authFile) throws IOException {
        if (creds != null) {
            int colon = creds.indexOf(':');
            if (colon <= 0) {
                throw new IOException("--creds: expected USER:PASSWORD");
            }
            return new RegistryCredentials(creds.substring(0, colon), creds.substring(colon + 1));
        }
        List<Path> files = new ArrayList<>();
        if (authFile != null) {
            files.add(authFile);
        } else {
            String env = System.getenv("REGISTRY_AUTH_FILE");
            String runtime = System.getenv("XDG_RUNTIME_DIR");
            String home = System.getProperty("user.home");
            if (env != null) {
                files.add(Path.of(env));
            }
            if (runtime != null) {
                files.add(Path.of(runtime, "containers", "auth.json"));
            }
            files.add(Path.of(home, ".config", "containers", "auth.json"));
            files.add(Path.of(home, ".docker", "config.json"));
        }
        for (Path f : files) {
            if (!Files.isRegularFile(f)) {
                if (authFile != null) {
                    throw new IOException(f + ": no such auth file");
                }
                continue;
            }
            Map<String, Object> json = JsonDocument.parse(Files.readAllBytes(f), f.toString());
            if (json.get("auths") instanceof Map<?, ?> auths) {
                for (String key : List.of(registry, "https://" + registry, "http://" + registry,
                        registry.equals(ImageReference.DOCKER_HUB) ? "https://index.docker.io/v1/" : registry)) {
                    if (auths.get(key) instanceof Map<?, ?> entry && entry.get("auth") instanceof String auth) {
                        String decoded;
                        try {
                            decoded = new String(Base64.getDecoder().decode(auth), StandardCharsets.UTF_8);
                        } catch (IllegalArgumentException e) {
                            throw new IOException(f + ": the auth entry for " + key + " is not base64");
                        }
                        int colon = decoded.indexOf(':');
                        if (colon <= 0) {
                            throw new IOException(f + ": the auth entry for " + key + " is not USER:PASSWORD");
                        }
                        return new RegistryCredentials(decoded.substring(0, colon), decoded.substring(colon + 1));
                    }
                }
            }
        }
        return null;
    }
}
