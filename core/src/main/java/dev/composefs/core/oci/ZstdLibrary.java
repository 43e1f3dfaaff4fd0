package dev.composefs.core.oci;

import com.github.luben.zstd.util.Native;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * zstd-jni's native library, loaded before a zstd layer is read. zstd-jni copies it out of its
 * jar into java.io.tmpdir and maps it from there, which fails where /tmp is mounted noexec (a
 * common hardening). It is then copied beside zstd-jni's jar instead: the directory this
 * program's own class path is in, where the launcher's runtime runs from too. zstd-jni deletes
 * the copy once it is mapped.
 */
final class ZstdLibrary {
    private ZstdLibrary() {}

    /** Loads the library unless loaded; what names the layer in the one-line failure. */
    static void load(String what) throws IOException {
        if (Native.isLoaded()) {
            return;
        }
        String tmp = System.getProperty("java.io.tmpdir");
        LinkageError inTmp; // UnsatisfiedLinkError, or ExceptionInInitializerError where it cannot write the copy
        try {
            Native.load();
            return;
        } catch (LinkageError e) {
            inTmp = e;
        }
        Path beside = jarDirectory();
        if (beside == null) {
            throw new IOException(notFromTmp(what, tmp, inTmp), inTmp);
        }
        try {
            Native.load(beside.toFile());
        } catch (LinkageError e) {
            throw new IOException(notFromTmp(what, tmp, inTmp) + "; nor from " + beside + ": "
                    + firstLine(e.getMessage()), e);
        }
    }

    /** Why the library did not load from java.io.tmpdir, tmp. */
    private static String notFromTmp(String what, String tmp, LinkageError e) {
        return what + ": cannot load zstd-jni's native library from " + tmp + " (java.io.tmpdir"
                + (Files.isWritable(Path.of(tmp)) ? "; mounted noexec?" : "") + "): " + firstLine(e.getMessage());
    }

    /** The directory of zstd-jni's jar, or null where it has none. */
    private static Path jarDirectory() {
        try {
            var source = Native.class.getProtectionDomain().getCodeSource();
            if (source == null) {
                return null;
            }
            Path dir = Path.of(source.getLocation().toURI()).getParent();
            return dir != null && Files.isDirectory(dir) ? dir : null;
        } catch (URISyntaxException | IllegalArgumentException | SecurityException e) {
            return null;
        }
    }

    /** zstd-jni appends a paragraph about unsupported platforms to every failure: only its first line says what failed. */
    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
