package dev.composefs.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's distribution registry (docker-registry) on 127.0.0.1, with a config written here
 * (filesystem storage under dir, an optional auth section); stopped by its pid on close.
 */
final class Registry implements AutoCloseable {
    final int port;
    private final Process process;
    private final Path log;

    private Registry(int port, Process process, Path log) {
        this.port = port;
        this.process = process;
        this.log = log;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** authYaml: the config's auth section (indented as under "auth:"), or null for none. */
    static Registry start(Path dir, String authYaml) throws Exception {
        Files.createDirectories(dir);
        int port = freePort();
        Path config = dir.resolve("config.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  level: warn
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: %s
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("data"), port) + (authYaml == null ? "" : "auth:\n" + authYaml));
        Path log = dir.resolve("registry.log");
        Process p = new ProcessBuilder(List.of("docker-registry", "serve", config.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Registry r = new Registry(port, p, log);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        for (int i = 0; i < 100; i++) {
            if (!p.isAlive()) {
                throw new IllegalStateException("docker-registry exited: " + Files.readString(log));
            }
            try {
                HttpResponse<Void> resp = http.send(HttpRequest.newBuilder(URI.create("http://" + r.host() + "/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (resp.statusCode() == 200 || resp.statusCode() == 401) {
                    return r;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        r.close();
        throw new IllegalStateException("docker-registry did not come up: " + Files.readString(log));
    }

    String host() {
        return "127.0.0.1:" + port;
    }

    /** skopeo copy of a layout's tag to REPO:TAG here; extra: skopeo options (credentials, compression). */
    void push(Path layout, String tag, String repoTag, String... extra) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("/usr/bin/skopeo", "copy", "--quiet", "--dest-tls-verify=false"));
        cmd.addAll(List.of(extra));
        cmd.addAll(List.of("oci:" + layout + ":" + tag, "docker://" + host() + "/" + repoTag));
        Cli.Result r = Cli.run(cmd, null, java.util.Map.of());
        if (r.exit() != 0) {
            throw new AssertionError("skopeo copy to the registry: " + r.stderr());
        }
    }

    @Override
    public void close() throws IOException {
        process.destroy(); // the pid we started, nothing found by name
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping docker-registry", e);
        }
    }

    String log() throws IOException {
        return Files.readString(log);
    }
}
