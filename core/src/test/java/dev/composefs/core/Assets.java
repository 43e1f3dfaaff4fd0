package dev.composefs.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** The upstream conformance assets in ../shared (read in place, never copied). */
public final class Assets {
    private Assets() {}

    public static Path dir() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = p; d != null; d = d.getParent()) {
            Path a = d.resolveSibling("shared").resolve("conformance/upstream-assets");
            if (Files.isDirectory(a)) {
                return a;
            }
        }
        throw new IllegalStateException("conformance assets not found: expected ../shared/conformance/upstream-assets "
                + "next to the repository (from " + p + ")");
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
