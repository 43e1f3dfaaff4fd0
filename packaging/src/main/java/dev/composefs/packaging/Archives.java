package dev.composefs.packaging;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;

/**
 * The package's archives, written from a list of entries: every entry owned by root, writable by
 * root only, with one modification time. The caches the package carries were trained on files
 * with that time (the JVM checks a jar's time against its cache), so the archives keep it.
 */
final class Archives {
    private Archives() {}

    /** One file, directory or symlink of an archive; content is null for directories and links. */
    record Entry(String path, int mode, byte[] content, String linkTarget) {
        boolean isDirectory() {
            return content == null && linkTarget == null;
        }
    }

    /**
     * The entries of the tree under root, as paths relative to it: directories first of their
     * contents, in name order. Modes keep the owner's execute bit and lose group and other write.
     */
    static List<Entry> tree(Path root) throws IOException {
        List<Entry> out = new ArrayList<>();
        TreeMap<String, Path> sorted = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !p.equals(root)).forEach(p -> sorted.put(root.relativize(p).toString(), p));
        }
        for (var e : sorted.entrySet()) {
            Path p = e.getValue();
            String name = e.getKey();
            if (Files.isSymbolicLink(p)) {
                out.add(new Entry(name, 0777, null, Files.readSymbolicLink(p).toString()));
            } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                out.add(new Entry(name, 0755, null, null));
            } else {
                byte[] content = Files.readAllBytes(p);
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
                out.add(new Entry(name, perms.contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644, content, null));
            }
        }
        return out;
    }

    /** entries as paths under prefix, with the content of the files overrides names (by their path in entries) replaced. */
    static List<Entry> under(String prefix, List<Entry> entries, Map<String, byte[]> overrides) {
        List<Entry> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            byte[] content = overrides.getOrDefault(e.path(), e.content());
            out.add(new Entry(prefix + e.path(), e.mode(), content, e.linkTarget()));
        }
        return out;
    }

    /** The directories leading to prefix ("usr/" gives "usr"), as entries. */
    static List<Entry> parents(String prefix) {
        List<Entry> out = new ArrayList<>();
        StringBuilder p = new StringBuilder();
        for (String part : prefix.split("/")) {
            if (!part.isEmpty()) {
                p.append(part).append('/');
                out.add(new Entry(p.substring(0, p.length() - 1), 0755, null, null));
            }
        }
        return out;
    }

    /** A gzip-compressed tar of entries, each path under top ("./" for a package's data). */
    static byte[] tarGz(List<Entry> entries, String top, long mtimeSeconds) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = gzip(bytes, 6); TarArchiveOutputStream tar = new TarArchiveOutputStream(gz)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            for (Entry e : entries) {
                String name = top + e.path() + (e.isDirectory() ? "/" : "");
                TarArchiveEntry t;
                if (e.linkTarget() != null) {
                    t = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
                    t.setLinkName(e.linkTarget());
                } else {
                    t = new TarArchiveEntry(name);
                    t.setSize(e.isDirectory() ? 0 : e.content().length);
                }
                t.setMode((e.isDirectory() ? 040000 : e.linkTarget() != null ? 0120000 : 0100000) | e.mode());
                t.setUserId(0);
                t.setGroupId(0);
                t.setUserName("root");
                t.setGroupName("root");
                t.setModTime(mtimeSeconds * 1000);
                tar.putArchiveEntry(t);
                if (e.content() != null) {
                    tar.write(e.content());
                }
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    private static OutputStream gzip(OutputStream out, int level) throws IOException {
        GzipParameters p = new GzipParameters();
        p.setCompressionLevel(level);
        p.setModificationTime(0);
        return new GzipCompressorOutputStream(out, p);
    }

    /** gzip -9n of content, as man pages are shipped. */
    static byte[] gzip(byte[] content) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = gzip(bytes, 9)) {
            gz.write(content);
        }
        return bytes.toByteArray();
    }

    /**
     * A Debian binary package: an ar archive of debian-binary, control.tar.gz (control, md5sums)
     * and data.tar.gz, in that order (deb(5)).
     */
    static void deb(Path out, String control, List<Entry> data, long mtimeSeconds) throws IOException {
        StringBuilder md5sums = new StringBuilder();
        for (Entry e : data) {
            if (e.content() != null) {
                md5sums.append(md5(e.content())).append("  ").append(e.path()).append('\n');
            }
        }
        List<Entry> controlEntries = List.of(
                new Entry("control", 0644, control.getBytes(StandardCharsets.UTF_8), null),
                new Entry("md5sums", 0644, md5sums.toString().getBytes(StandardCharsets.UTF_8), null));
        byte[] controlTar = tarGz(controlEntries, "./", mtimeSeconds);
        byte[] dataTar = tarGz(data, "./", mtimeSeconds);
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        try (OutputStream file = Files.newOutputStream(tmp); ArArchiveOutputStream ar = new ArArchiveOutputStream(file)) {
            member(ar, "debian-binary", "2.0\n".getBytes(StandardCharsets.US_ASCII), mtimeSeconds);
            member(ar, "control.tar.gz", controlTar, mtimeSeconds);
            member(ar, "data.tar.gz", dataTar, mtimeSeconds);
        }
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void member(ArArchiveOutputStream ar, String name, byte[] content, long mtimeSeconds)
            throws IOException {
        ar.putArchiveEntry(new ArArchiveEntry(name, content.length, 0, 0, 0100644, mtimeSeconds));
        ar.write(content);
        ar.closeArchiveEntry();
    }

    private static String md5(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Installed-Size: the data's size in KiB, as dpkg-gencontrol counts it (a KiB per file at least). */
    static long installedKiB(List<Entry> data) {
        long kib = 0;
        for (Entry e : data) {
            kib += e.content() == null ? 1 : Math.max(1, (e.content().length + 1023) / 1024);
        }
        return kib;
    }
}
