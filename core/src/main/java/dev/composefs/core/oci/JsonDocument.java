package dev.composefs.core.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.util.Map;

/**
 * A JSON document that must be an object (an OCI index, manifest or config, a runtime's state
 * or config.json, a registry's answer). jackson-jr's messages run over several lines with the
 * parser's location; a bad document is one line naming where it came from.
 */
public final class JsonDocument {
    private JsonDocument() {}

    public static Map<String, Object> parse(byte[] bytes, String where) throws IOException {
        try {
            return JSON.std.mapFrom(bytes);
        } catch (IOException | RuntimeException e) {
            throw new IOException(where + ": not valid JSON: " + firstLine(e.getMessage()));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
