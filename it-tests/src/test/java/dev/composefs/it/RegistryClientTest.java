package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.oci.ImageSource;
import dev.composefs.core.oci.LayerBlob;
import dev.composefs.core.oci.Platform;
import dev.composefs.core.oci.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry client itself (RegistrySource, through ImageSource.registry), in process, against
 * Debian's docker-registry on 127.0.0.1 holding images skopeo pushed: what it resolves is what
 * skopeo reads back, every layer's bytes match their digest, and what cannot be had is one line.
 * (OciImportTest and OciRegistryAuthTest run it through `composefs oci pull`, with auth.)
 */
class RegistryClientTest {
    @TempDir
    static Path tmp;
    private static Registry registry;

    @BeforeAll
    static void start() throws Exception {
        OciImportTest.assumeTools();
        Path layout = tmp.resolve("layout");
        Cli.Result r = Cli.run(List.of("/bin/bash", Cli.repo().resolve("it-tests/oci/build-layout.sh").toString(),
                layout.toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        registry = Registry.start(tmp.resolve("registry"), null);
        registry.push(layout, "app", "test/app:1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    /** The layer digests skopeo reads from the registry for ref. */
    private static List<String> skopeoLayers(String ref) throws Exception {
        Cli.Result r = Cli.run(List.of("/usr/bin/skopeo", "inspect", "--tls-verify=false", "--format",
                "{{range .Layers}}{{.}} {{end}}", "docker://" + ref), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        return List.of(r.out().trim().split(" "));
    }

    @Test
    void resolvesWhatSkopeoReadsAndEveryLayerMatchesItsDigest() throws Exception {
        String ref = registry.host() + "/test/app:1";
        try (ImageSource source = ImageSource.registry(ref, null, null, true)) {
            ResolvedImage image = source.resolve(Platform.current());
            List<String> digests = image.layers().stream().map(l -> l.digest().toString()).toList();
            assertEquals(skopeoLayers(ref), digests);
            for (LayerBlob layer : image.layers()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                long n = 0;
                try (InputStream in = layer.opener().open()) {
                    byte[] buf = new byte[1 << 16];
                    for (int k; (k = in.read(buf)) > 0; ) {
                        sha.update(buf, 0, k);
                        n += k;
                    }
                }
                assertEquals(layer.size(), n, layer.name());
                assertEquals(layer.digest().toString(), "sha256:" + HexFormat.of().formatHex(sha.digest()));
            }
            assertTrue(new String(image.config(), StandardCharsets.UTF_8).contains("diff_ids"));
        }
    }

    private static String failure(String ref, boolean insecure) {
        return assertThrows(IOException.class, () -> {
            try (ImageSource source = ImageSource.registry(ref, null, null, insecure)) {
                source.resolve(Platform.current());
            }
        }).getMessage();
    }

    @Test
    void whatCannotBeHadIsOneLineNamingIt() throws Exception {
        String host = registry.host();
        String notFound = failure(host + "/test/nope:1", true);
        assertTrue(notFound.contains("not found") && !notFound.contains("\n"), notFound);
        String noTag = failure(host + "/test/app:missing", true);
        assertTrue(noTag.contains("not found"), noTag);
        String tls = failure(host + "/test/app:1", false);
        assertTrue(tls.contains("--insecure"), tls);
        String closed = failure("127.0.0.1:" + Registry.freePort() + "/test/app:1", true);
        assertTrue(closed.contains("127.0.0.1") && !closed.contains("\n"), closed);
        String wrongDigest = failure(host + "/test/app@sha256:" + "0".repeat(64), true);
        assertTrue(wrongDigest.contains("not found") || wrongDigest.contains("does not match"), wrongDigest);
        assertThrows(IOException.class, () -> ImageSource.registry(host + "/Test/App", null, null, true));
    }
}
