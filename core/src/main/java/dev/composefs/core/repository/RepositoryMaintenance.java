package dev.composefs.core.repository;

import dev.composefs.core.dumpfile.Escaping;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * gc and fsck of a repository. The roots are its names (images/refs): an image no name links to
 * goes, with every object only it used; nothing a name reaches can go.
 */
public final class RepositoryMaintenance {
    private RepositoryMaintenance() {}

    /** What gc removed (or, dry, would remove): image links and the objects report. */
    public record GcResult(List<String> images, StoreMaintenance.GcReport objects) {}

    /** A damage fsck found: its kind, where, and what. */
    public record Problem(String kind, String path, String detail) {}

    /** What fsck found: objects checked, and every problem. */
    public record FsckResult(long objects, long bytes, List<Problem> problems) {}

    /**
     * Needs the repository opened EXCLUSIVE (dry: READ): no writer stores objects whose name
     * does not exist yet.
     */
    public static GcResult gc(Repository repo, boolean dryRun, Progress progress, Consumer<String> log) throws IOException {
        Map<String, byte[]> roots = new HashMap<>(); // hex -> digest of each image a name reaches
        for (byte[] d : repo.refMap().values()) {
            roots.put(FsVerity.hex(d), d);
        }
        List<String> removed = new ArrayList<>();
        for (Path p : imageLinks(repo)) {
            String name = p.getFileName().toString();
            if (Repository.isTemporary(p) || !roots.containsKey(name)) {
                if (!Repository.isTemporary(p)) {
                    removed.add(name);
                }
                if (!dryRun) {
                    Files.deleteIfExists(p);
                }
            }
        }
        for (Path p : temporaryRefs(repo)) { // a writer killed between its link and the rename
            if (!dryRun) {
                Files.deleteIfExists(p);
            }
        }
        List<Directory> trees = new ArrayList<>();
        Set<String> kept = new HashSet<>();
        for (byte[] d : roots.values()) {
            trees.add(ErofsReader.read(repo.image(d)));
            kept.add(ObjectStore.objectPath(d));
        }
        try (ObjectStore store = repo.store(dryRun ? ObjectStore.Lock.SHARED : ObjectStore.Lock.EXCLUSIVE, log)) {
            return new GcResult(removed, StoreMaintenance.gc(store, trees, Set.of(), kept, dryRun, progress, log));
        }
    }

    /**
     * Objects whose content does not match their name, image links that dangle or point at
     * another object than their name, images whose objects are missing, names that lead to no
     * image. Temporary names a killed writer left are no damage (gc removes them).
     */
    public static FsckResult fsck(Repository repo, int threads, Progress progress, Consumer<String> log) throws IOException {
        List<Problem> problems = new ArrayList<>();
        StoreMaintenance.FsckReport objects;
        try (ObjectStore store = repo.store(ObjectStore.Lock.SHARED, log)) {
            objects = StoreMaintenance.fsck(store, threads, true, progress, log);
        }
        for (String p : objects.problems()) {
            problems.add(new Problem("object", p.contains(":") ? p.substring(0, p.indexOf(':')) : p, p));
        }
        for (Path link : imageLinks(repo)) {
            if (Repository.isTemporary(link)) {
                continue;
            }
            String name = link.getFileName().toString();
            String where = "images/" + name;
            byte[] digest = Repository.hex(name);
            if (digest == null || !Files.isSymbolicLink(link)) {
                problems.add(new Problem("image", where, "not a link named by an image's digest"));
                continue;
            }
            byte[] target = Repository.digestOfLink(link);
            if (target == null || !FsVerity.hex(target).equals(name)) {
                problems.add(new Problem("image", where, "links to " + Files.readSymbolicLink(link)
                        + ", not to the object its name gives"));
                continue;
            }
            if (!Files.exists(link)) {
                problems.add(new Problem("dangling", where, "its object " + ObjectStore.objectPath(digest) + " is missing"));
                continue;
            }
            Directory tree;
            try {
                tree = ErofsReader.read(link);
            } catch (IOException e) {
                problems.add(new Problem("image", where, "cannot be read: " + e.getMessage()));
                continue;
            }
            StoreMaintenance.storedFiles(tree, (path, f, rel) -> {
                if (rel == null || !Files.isRegularFile(repo.objects().resolve(rel), LinkOption.NOFOLLOW_LINKS)) {
                    problems.add(new Problem("missing-object", where, Escaping.printable(path) + ": object "
                            + Escaping.printable(f.payload()) + " is missing"));
                }
            });
        }
        for (Path ref : refLinks(repo)) {
            String where = "images/refs/" + repo.refs().relativize(ref);
            if (Repository.isTemporary(ref)) {
                continue;
            }
            byte[] d = Repository.digestOfLink(ref);
            if (d == null) {
                problems.add(new Problem("ref", where, "links to " + Files.readSymbolicLink(ref) + ", not to an image"));
            } else if (!Files.exists(ref)) {
                problems.add(new Problem("dangling", where, "its image " + FsVerity.hex(d) + " is missing"));
            }
        }
        return new FsckResult(objects.objects(), objects.bytes(), problems);
    }

    /** The entries of images/ but refs/. */
    private static List<Path> imageLinks(Repository repo) throws IOException {
        if (!Files.isDirectory(repo.images())) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(repo.images())) {
            return s.filter(p -> !p.equals(repo.refs())).sorted().toList();
        }
    }

    private static List<Path> refLinks(Repository repo) throws IOException {
        if (!Files.isDirectory(repo.refs())) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(repo.refs())) {
            return s.filter(Files::isSymbolicLink).sorted().toList();
        }
    }

    private static List<Path> temporaryRefs(Repository repo) throws IOException {
        return refLinks(repo).stream().filter(Repository::isTemporary).toList();
    }

    /** The names and digests, as `composefs repo list` prints them. */
    public static List<String> list(Repository repo) throws IOException {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : repo.refMap().entrySet()) {
            out.add(e.getKey() + " " + FsVerity.hex(e.getValue()));
        }
        return out;
    }
}
