package dev.composefs.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Upstream's conformance assets (read in place, never copied), found through one setting: the
 * environment variable COMPOSEFS_CONFORMANCE or the Maven property composefs.conformance, each
 * naming the conformance directory; by default ../shared/conformance beside the repository.
 * Where they are not, the tests that need them skip, saying how to provide them.
 */
public final class Assets {
    private Assets() {}

    /** The conformance directory the setting names (it may not exist). */
    public static Path conformance() {
        String env = System.getenv("COMPOSEFS_CONFORMANCE");
        String prop = System.getProperty("composefs.conformance");
        if (env != null && !env.isEmpty()) {
            return Path.of(env).toAbsolutePath();
        }
        if (prop != null && !prop.isEmpty()) {
            return Path.of(prop).toAbsolutePath();
        }
        Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (d.getParent() != null && !Files.isDirectory(d.resolve(".git")) && !Files.isDirectory(d.resolve("packaging"))) {
            d = d.getParent();
        }
        return d.resolveSibling("shared").resolve("conformance");
    }

    /** The upstream-assets directory, or the calling test skipped with how to provide it. */
    public static Path dir() {
        Path a = conformance().resolve("upstream-assets");
        if (!Files.isDirectory(a)) {
            org.junit.jupiter.api.Assumptions.abort("upstream's conformance assets are not at " + a + ": set "
                    + "COMPOSEFS_CONFORMANCE (or -Dcomposefs.conformance=) to the directory holding upstream-assets/");
        }
        return a;
    }

    /** The dump's bytes, gunzipped, following special_v1.dump's one-line indirection. */
    public static byte[] dump(String name) throws IOException {
        Path f = dir().resolve(name);
        byte[] data;
        try (InputStream in = name.endsWith(".gz") ? new GZIPInputStream(Files.newInputStream(f))
                : Files.newInputStream(f)) {
            data = in.readAllBytes();
        }
        String s = new String(data, java.nio.charset.StandardCharsets.ISO_8859_1).strip();
        if (data.length < 100 && !s.contains(" ") && Files.exists(dir().resolve(s))) {
            return dump(s);
        }
        return data;
    }
}
