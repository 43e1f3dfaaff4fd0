package dev.composefs.core.repository;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_file_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.oci.JsonDocument;
import dev.composefs.core.util.AtomicFile;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A repository of named images, in composefs-rs's layout so that one directory serves both:
 * <pre>
 * REPO/meta.json          {"version": 1, "algorithm": "fsverity-sha256-12"}
 * REPO/objects/XX/REST    file contents and the images themselves, named by fs-verity digest
 * REPO/images/HEX         -> ../objects/XX/REST        (images made here: only these are mounted)
 * REPO/images/refs/NAME   -> ../../images/HEX          (the names; the roots of gc)
 * </pre>
 * Writers hold a shared lock on the repository directory for the whole of their work (objects
 * stored, image linked, name set); gc holds it exclusively, so it never runs between an ingest
 * storing objects and the name that keeps them.
 */
public final class Repository implements AutoCloseable {
    public static final String META = "meta.json";
    public static final String ALGORITHM = "fsverity-sha256-12";
    public static final int VERSION = 1;

    /** How a repository is opened: to read, to add (shared with other writers), or alone (gc). */
    public enum Access { READ, WRITE, EXCLUSIVE }

    private final Path root;
    private final int lockFd;

    private Repository(Path root, int lockFd) {
        this.root = root;
        this.lockFd = lockFd;
    }

    public Path root() {
        return root;
    }

    public Path objects() {
        return root.resolve("objects");
    }

    public Path images() {
        return root.resolve("images");
    }

    public Path refs() {
        return root.resolve("images/refs");
    }

    /**
     * Makes a repository at root (private, 0700: objects are 0644 whatever their files' modes),
     * or checks the one that is there. Returns false if one was there.
     */
    public static boolean init(Path root) throws IOException {
        if (Files.exists(root.resolve(META), LinkOption.NOFOLLOW_LINKS)) {
            try (Repository r = open(root, Access.READ)) {
                return false;
            }
        }
        if (!Files.isDirectory(root)) {
            try {
                Files.createDirectories(root.getParent() == null ? root : root.getParent());
                Files.createDirectory(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                throw new IOException(root + ": exists and is not a directory");
            }
        }
        Files.createDirectories(root.resolve("objects"));
        Files.createDirectories(root.resolve("images/refs"));
        AtomicFile.write(root.resolve(META), ("{\"version\": " + VERSION + ", \"algorithm\": \"" + ALGORITHM + "\"}\n")
                .getBytes(StandardCharsets.UTF_8));
        return true;
    }

    /**
     * Opens the repository at root: its meta.json is checked before anything is written (a
     * higher version or an unknown incompatible feature is refused; an unknown
     * read-only-compatible feature refuses writes), then the lock is taken.
     */
    public static Repository open(Path root, Access access) throws IOException {
        Path meta = root.resolve(META);
        if (!Files.exists(meta, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(root + ": not a repository (no " + META + "); make one with composefs repo init " + root);
        }
        checkMeta(InputFiles.read(meta, InputFiles.Kind.REGULAR, 1 << 20, "the repository's meta.json"), meta,
                access != Access.READ);
        int fd;
        try {
            fd = fcntl_h.openat(fcntl_h.AT_FDCWD, root.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY
                    | fcntl_h.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new IOException(root + ": cannot open the repository: " + e.getMessage(), e);
        }
        try {
            sys_file_h.flock(fd, access == Access.EXCLUSIVE ? sys_file_h.LOCK_EX : sys_file_h.LOCK_SH, root.toString());
        } catch (SyscallException e) {
            unistd_h.closeQuietly(fd);
            throw new IOException(root + ": cannot lock the repository: " + e.getMessage(), e);
        }
        return new Repository(root, fd);
    }

    @SuppressWarnings("unchecked")
    static void checkMeta(byte[] json, Path meta, boolean write) throws IOException {
        Map<String, Object> doc = JsonDocument.parse(json, meta.toString());
        if (!(doc.get("version") instanceof Number n) || n.doubleValue() != n.intValue() || n.intValue() < 1) {
            throw new IOException(meta + ": no repository format version");
        }
        if (n.intValue() > VERSION) {
            throw new IOException(meta + ": repository format version " + n.intValue() + "; this composefs-java knows "
                    + "version " + VERSION + " and changes nothing in a newer one");
        }
        Object alg = doc.get("algorithm");
        if (!ALGORITHM.equals(alg)) {
            throw new IOException(meta + ": objects named by " + alg + " digests; composefs-java names them by "
                    + ALGORITHM + " (upstream's and the kernel's overlay verity=)");
        }
        Object features = doc.getOrDefault("features", Map.of());
        if (!(features instanceof Map<?, ?> f)) {
            throw new IOException(meta + ": \"features\" is not a JSON object");
        }
        for (String kind : List.of("incompatible", "read-only-compatible")) {
            Object list = ((Map<String, Object>) f).getOrDefault(kind, List.of());
            if (!(list instanceof List<?> l)) {
                throw new IOException(meta + ": features." + kind + " is not a list");
            }
            if (!l.isEmpty() && (kind.equals("incompatible") || write)) {
                throw new IOException(meta + ": " + kind + " feature " + l.get(0) + " is unknown to this composefs-java"
                        + (kind.equals("incompatible") ? "" : ": it may read this repository, not change it"));
            }
        }
    }

    /** The store of the repository's objects (made if missing). */
    public ObjectStore store(ObjectStore.Lock lock, Consumer<String> warn) throws IOException {
        return ObjectStore.open(objects(), true, lock, warn);
    }

    /** The image made here with this digest: REPO/images/HEX. */
    public Path image(byte[] digest) {
        return images().resolve(FsVerity.hex(digest));
    }

    /**
     * Stores image (an EROFS image whose fs-verity digest is digest) as an object, and links it
     * as REPO/images/HEX. store is this repository's, open.
     */
    public void addImage(ObjectStore store, byte[] image, byte[] digest) throws IOException {
        store.put(new ObjectStore.FromBytes(image, digest), "image " + FsVerity.hex(digest));
        link(image(digest), Path.of("..", "objects").resolve(ObjectStore.objectPath(digest)));
    }

    /** Names digest (an image of this repository) name: REPO/images/refs/NAME, replacing what it named. */
    public void setRef(String name, byte[] digest) throws IOException {
        checkName(name);
        if (!Files.exists(image(digest))) {
            throw new IOException(root + ": no image " + FsVerity.hex(digest));
        }
        Path ref = refs().resolve(name);
        Files.createDirectories(ref.getParent());
        Path up = Path.of("..");
        for (int i = 1; i < Path.of(name).getNameCount(); i++) {
            up = up.resolve("..");
        }
        link(ref, up.resolve("..").resolve("images").resolve(FsVerity.hex(digest)));
    }

    /** Removes name, and the directories of refs it leaves empty. False if there was no such name. */
    public boolean removeRef(String name) throws IOException {
        checkName(name);
        Path ref = refs().resolve(name);
        if (!Files.isSymbolicLink(ref)) {
            return false;
        }
        Files.delete(ref);
        for (Path d = ref.getParent(); !d.equals(refs()); d = d.getParent()) {
            try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
                if (s.iterator().hasNext()) {
                    break;
                }
            }
            Files.delete(d);
        }
        return true;
    }

    /** Every name with the digest of the image it names, in name order; a name whose link is not an image's is skipped. */
    public Map<String, byte[]> refMap() throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        if (!Files.isDirectory(refs())) {
            return out;
        }
        try (var walk = Files.walk(refs())) {
            for (Path p : walk.filter(Files::isSymbolicLink).toList()) {
                byte[] d = digestOfLink(p);
                if (d != null) {
                    out.put(refs().relativize(p).toString(), d);
                }
            }
        }
        return out;
    }

    /**
     * The digest a link of images/ (-> ../objects/XX/REST) or of refs/ (-> ../../images/HEX)
     * names, or null where its target has neither form.
     */
    public static byte[] digestOfLink(Path link) throws IOException {
        Path target = Files.readSymbolicLink(link);
        Path parent = target.getParent();
        if (parent == null) {
            return null;
        }
        String name = target.getFileName().toString();
        if (parent.getFileName().toString().equals("images")) {
            return hex(name);
        }
        Path grand = parent.getParent();
        if (grand != null && grand.getFileName().toString().equals("objects")) {
            return hex(parent.getFileName() + name);
        }
        return null;
    }

    /** NAME or a 64-digit hex digest, to the digest of an image of this repository. */
    public byte[] resolve(String nameOrDigest) throws IOException {
        byte[] d = hex(nameOrDigest);
        if (d != null) {
            if (!Files.exists(image(d))) {
                throw new IOException(root + ": no image " + nameOrDigest);
            }
            return d;
        }
        checkName(nameOrDigest);
        Path ref = refs().resolve(nameOrDigest);
        if (!Files.isSymbolicLink(ref)) {
            throw new IOException(root + ": no image named " + nameOrDigest);
        }
        d = digestOfLink(ref);
        if (d == null || !Files.exists(image(d))) {
            throw new IOException(root + ": " + nameOrDigest + " names no image of this repository");
        }
        return d;
    }

    /** A 64-digit lower- or upper-case hex string's bytes, else null. */
    public static byte[] hex(String s) {
        if (s.length() != 64 || !s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            return null;
        }
        return HexFormat.of().parseHex(s.toLowerCase());
    }

    /** Names are paths below refs/: no empty, '.' or '..' component, not absolute, no control characters. */
    public static void checkName(String name) throws IOException {
        if (name.isEmpty() || name.startsWith("/") || name.endsWith("/")) {
            throw new IOException("name '" + name + "': not a relative path below images/refs");
        }
        for (String part : name.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.startsWith(".tmp-")) {
                throw new IOException("name '" + name + "': empty, '.', '..' or '.tmp-' components are not names");
            }
        }
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) < 0x20 || name.charAt(i) == 0x7f) {
                throw new IOException("name '" + name.replaceAll("\\p{Cntrl}", "?") + "': control characters are not names");
            }
        }
    }

    /** A symlink at where to target, made under a temporary name and renamed over what was there. */
    private static void link(Path where, Path target) throws IOException {
        Path tmp = where.resolveSibling(".tmp-" + UUID.randomUUID());
        Files.createSymbolicLink(tmp, target);
        try {
            Files.move(tmp, where, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Removes a link left under a temporary name by a writer that was killed. */
    static boolean isTemporary(Path p) {
        return p.getFileName().toString().startsWith(".tmp-");
    }

    @Override
    public void close() {
        unistd_h.closeQuietly(lockFd);
    }

}
