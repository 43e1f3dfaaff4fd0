package dev.composefs.core.oci;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.composefs.core.tar.TarEntry;
import dev.composefs.core.tar.TarReader;
import dev.composefs.core.util.ChunkedInputStream;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code docker save} archive: a tar holding {@code manifest.json}, the image config and one
 * tar per layer. It has no layer digests; each layer is checked against the config's
 * rootfs.diff_ids, and the config against its own name where that is a digest.
 */
final class ArchiveSource implements ImageSource {
    /** Where a member's content lies in the archive file. */
    private record Member(long offset, long size) {}

    private final Path file;
    private final String ref;
    private final FileChannel channel;
    private final Map<String, Member> members;

    private ArchiveSource(Path file, String ref, FileChannel channel, Map<String, Member> members) {
        this.file = file;
        this.ref = ref;
        this.channel = channel;
        this.members = members;
    }

    /** FILE[:REPO:TAG], split at the first colon as skopeo does. */
    static ArchiveSource open(String spec) throws IOException {
        int colon = spec.indexOf(':');
        Path file = Path.of(colon < 0 ? spec : spec.substring(0, colon));
        String ref = colon < 0 ? null : spec.substring(colon + 1);
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such file");
        }
        try {
            return new ArchiveSource(file, ref, ch, index(file, ch));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** One pass over the archive: where each regular member's content is. */
    private static Map<String, Member> index(Path file, FileChannel ch) throws IOException {
        Map<String, Member> out = new HashMap<>();
        Map<String, String> links = new HashMap<>();
        long[] pos = {0};
        // counts the position of each member's content; skip() seeks in the file, so the layers
        // themselves are not read by this pass
        InputStream raw = new FilterInputStream(new BufferedInputStream(Channels.newInputStream(ch.position(0)), 1 << 16)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    pos[0] += n;
                }
                return n;
            }

            @Override
            public int read() throws IOException {
                int c = super.read();
                if (c >= 0) {
                    pos[0]++;
                }
                return c;
            }

            @Override
            public long skip(long n) throws IOException {
                long s = super.skip(n);
                pos[0] += Math.max(s, 0);
                return s;
            }
        };
        TarReader tar = new TarReader(raw, file.toString());
        for (TarEntry e; (e = tar.next()) != null; ) {
            if (e.type() == TarEntry.REGULAR) {
                out.put(normalize(e.name()), new Member(pos[0], e.size()));
            } else if (e.type() == TarEntry.SYMLINK || e.type() == TarEntry.HARDLINK) {
                links.put(normalize(e.name()), e.type() == TarEntry.HARDLINK ? normalize(e.linkName())
                        : resolve(normalize(e.name()), e.linkName()));
            }
        }
        // docker save and skopeo name a layer shared by several images once and link the others to it
        for (var l : links.entrySet()) {
            String target = l.getValue();
            for (int hops = 0; hops < 8 && !out.containsKey(target) && links.containsKey(target); hops++) {
                target = links.get(target);
            }
            if (out.containsKey(target)) {
                out.putIfAbsent(l.getKey(), out.get(target));
            }
        }
        return out;
    }

    /** A symlink member's target as a member name: relative to the link's directory, ".." resolved. */
    private static String resolve(String link, String target) {
        ArrayDeque<String> parts = new ArrayDeque<>();
        if (!target.startsWith("/")) {
            String[] dir = link.split("/");
            for (int i = 0; i < dir.length - 1; i++) {
                parts.addLast(dir[i]);
            }
        }
        for (String c : target.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                parts.pollLast();
            } else {
                parts.addLast(c);
            }
        }
        return String.join("/", parts);
    }

    private static String normalize(String name) {
        while (name.startsWith("./")) {
            name = name.substring(2);
        }
        return name;
    }

    @Override
    public ResolvedImage resolve(Platform platform) throws IOException {
        String name = "docker-archive:" + file + (ref != null ? ":" + ref : "");
        Map<String, Object> chosen = choose(name);
        if (!(chosen.get("Config") instanceof String configName) || !(chosen.get("Layers") instanceof List<?> layers)) {
            throw new IOException(file + ": manifest.json entry without Config and Layers");
        }
        byte[] config = member(configName, Manifests.DOCUMENT_MAX);
        String hex = configName.replaceFirst("^blobs/sha256/", "").replaceFirst("\\.json$", "");
        if (hex.matches("[0-9a-f]{64}") && !Digest.parse("sha256:" + hex, name).matches(config)) {
            throw new IOException(file + ": " + configName + ": content does not match its digest; refused");
        }
        List<Digest> diffIds = Manifests.diffIds(config, file + ": " + configName);
        if (diffIds.size() != layers.size()) {
            throw new IOException(file + ": " + layers.size() + " layers but " + diffIds.size()
                    + " rootfs.diff_ids in " + configName);
        }
        List<LayerBlob> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            String layer = normalize(String.valueOf(layers.get(i)));
            Member m = members.get(layer);
            if (m == null) {
                throw new IOException(file + ": layer " + layer + " is not in the archive");
            }
            out.add(new LayerBlob(null, m.size(), diffIds.get(i), () -> open(m)));
        }
        return new ResolvedImage(name, config, out);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> choose(String name) throws IOException {
        byte[] manifest = member("manifest.json", Manifests.DOCUMENT_MAX);
        Object parsed;
        try {
            parsed = JSON.std.anyFrom(manifest);
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + ": manifest.json is not valid JSON");
        }
        if (!(parsed instanceof List<?> entries) || entries.isEmpty()) {
            throw new IOException(file + ": manifest.json lists no image");
        }
        List<String> tags = new ArrayList<>();
        for (Object o : entries) {
            if (o instanceof Map<?, ?> m && m.get("RepoTags") instanceof List<?> repoTags) {
                for (Object t : repoTags) {
                    tags.add(String.valueOf(t));
                    if (ref != null && hubless(ref).equals(hubless(String.valueOf(t)))) {
                        return (Map<String, Object>) m;
                    }
                }
            }
        }
        if (ref == null && entries.size() == 1 && entries.get(0) instanceof Map<?, ?> only) {
            return (Map<String, Object>) only;
        }
        throw new IOException(name + ": " + (ref == null ? "several images; name one" : "no image " + ref)
                + " (tags: " + String.join(", ", tags) + ")");
    }

    /** A tag as Docker Hub names are compared: docker.io/library/x:1 is x:1. */
    private static String hubless(String tag) {
        return tag.replaceFirst("^docker\\.io/", "").replaceFirst("^library/", "");
    }

    private byte[] member(String name, int max) throws IOException {
        Member m = members.get(normalize(name));
        if (m == null) {
            throw new IOException(file + ": no " + name + " in the archive (not a docker save archive?)");
        }
        if (m.size() > max) {
            throw new IOException(file + ": " + name + " of " + m.size() + " bytes (at most " + max + ")");
        }
        try (InputStream in = open(m)) {
            return in.readAllBytes();
        }
    }

    private InputStream open(Member m) {
        return new ChunkedInputStream() {
            private long pos = m.offset();
            private final long end = m.offset() + m.size();

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (pos >= end) {
                    return -1;
                }
                int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - pos)), pos);
                if (n < 0) {
                    throw new IOException(file + ": truncated");
                }
                pos += n;
                return n;
            }
        };
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
