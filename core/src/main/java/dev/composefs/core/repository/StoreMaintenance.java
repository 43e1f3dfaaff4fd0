package dev.composefs.core.repository;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.dirent_h;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.dumpfile.Escaping;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.util.Parallel;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Store upkeep beyond upstream's C tools (composefs-rs has both): fsck checks every object's
 * content against its name and reports, never deletes, what is wrong; gc removes the objects no
 * given image refers to. Both also clear temporary files a crashed writer left behind; with
 * dryRun they only say what they would do.
 */
public final class StoreMaintenance {
    private StoreMaintenance() {}

    /** One entry of the store as a listing sees it. */
    record Entry(String dir, String name, Kind kind, long size) {
        String path() {
            return dir.isEmpty() ? name : dir + "/" + name;
        }
    }

    /** OBJECT: XX/<62 hex>; DESCRIPTOR: a cached kernel-driver descriptor, descriptors/<64 hex>. */
    enum Kind { OBJECT, DESCRIPTOR, TEMP, UNEXPECTED }

    /** fsck's findings: objects checked, bytes read, and every problem as one line. */
    public record FsckReport(long objects, long bytes, List<String> problems, List<String> tempFiles) {}

    /** gc's work: what was (or, dry, would be) removed and the bytes freed. */
    public record GcReport(long kept, List<String> removed, long bytesFreed) {}

    public static FsckReport fsck(ObjectStore store, int threads, boolean dryRun, Progress progress,
            Consumer<String> log) throws IOException {
        List<Entry> entries = list(store);
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        List<Entry> objects = new ArrayList<>();
        List<String> temps = new ArrayList<>();
        for (Entry e : entries) {
            switch (e.kind()) {
                case OBJECT, DESCRIPTOR -> objects.add(e);
                case TEMP -> temps.add(e.path());
                case UNEXPECTED -> problems.add(e.path() + ": not an object (unexpected name or file type)");
            }
        }
        AtomicLong done = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        // a large object's hashing in parts for the workers that have no object left
        Parallel.Sharing<FdDigester> sharing = threads > 1 ? new Parallel.Sharing<>() : null;
        Parallel.forEach(objects, threads, FdDigester::new, (dg, e) -> {
            String where = store.where(e.path());
            int fd = store.openEntry(e.dir(), e.name());
            try {
                byte[] digest = FdDigester.measured(fd, where); // fs-verity object: the kernel's word
                if (digest == null) {
                    digest = (FdDigester.sharesHashing(sharing, e.size())
                            ? dg.digestShared(fd, e.size(), sharing, where) : dg.digest(fd, 0, where)).digest();
                }
                String actual = FsVerity.hex(digest);
                if (!actual.equals(e.kind() == Kind.DESCRIPTOR ? e.name() : e.dir() + e.name())) {
                    problems.add(e.path() + ": content does not match its name (fs-verity digest is " + actual + ")");
                }
            } finally {
                unistd_h.closeQuietly(fd);
            }
            bytes.addAndGet(e.size());
            progress.update("fsck: " + done.incrementAndGet() + "/" + objects.size() + " objects, "
                    + Progress.bytes(bytes.get()));
        }, sharing);
        progress.clear();
        removeTemps(store, entries, dryRun, log);
        List<String> sorted = new ArrayList<>(problems);
        Collections.sort(sorted);
        return new FsckReport(objects.size(), bytes.get(), sorted, temps);
    }

    /** A regular file of an image whose content is an object; rel is its object as the kernel resolves it, or null. */
    @FunctionalInterface
    public interface StoredFile {
        void visit(String path, RegularFile file, String rel);
    }

    /**
     * Every file of image whose content is in the store (a payload), with its object's path as
     * overlayfs resolves it ("./07/x" and "07//x" are "07/x"), null for one that leaves the store.
     */
    public static void storedFiles(Directory image, StoredFile visitor) {
        DumpWriter.walk(image, (path, node) -> {
            if (node instanceof RegularFile f && f.content() == null && f.payload() != null) {
                visitor.visit(path, f, Payloads.normalize(f.payload()));
            }
        });
    }

    /**
     * The files of images (as "PATH") that not every user may read (no o+r in their mode) and
     * whose object is in the store at root: readable by all there when the store is open.
     */
    public static List<String> privateFilesStored(Path root, List<Directory> images) {
        List<String> out = new ArrayList<>();
        for (Directory image : images) {
            storedFiles(image, (path, f, rel) -> {
                if ((f.meta().mode() & 0004) == 0 && rel != null
                        && Files.isRegularFile(root.resolve(rel), LinkOption.NOFOLLOW_LINKS)) {
                    out.add(Escaping.printable(path));
                }
            });
        }
        return out;
    }

    /**
     * Removes every object that none of the images refers to, and every cached descriptor not
     * named in descriptors. Needs the store opened EXCLUSIVE.
     */
    public static GcReport gc(ObjectStore store, List<Directory> images, Set<String> descriptors, boolean dryRun,
            Progress progress, Consumer<String> log) throws IOException {
        return gc(store, images, descriptors, Set.of(), dryRun, progress, log);
    }

    /** {@link #gc}, keeping also the objects named in kept ("XX/REST": a repository's images themselves). */
    public static GcReport gc(ObjectStore store, List<Directory> images, Set<String> descriptors, Set<String> keptObjects,
            boolean dryRun, Progress progress, Consumer<String> log) throws IOException {
        // a payload that leaves the store refers to nothing in it, and is said so
        Set<String> referenced = new HashSet<>(keptObjects);
        for (Directory image : images) {
            storedFiles(image, (path, f, rel) -> {
                if (rel == null) {
                    log.accept("warning: " + path + ": payload " + Escaping.printable(f.payload())
                            + " leaves the store; it refers to no object");
                } else {
                    referenced.add(rel);
                }
            });
        }
        List<Entry> entries = list(store);
        List<String> removed = new ArrayList<>();
        long freed = 0;
        long kept = 0;
        int seen = 0;
        for (Entry e : entries) {
            if (e.kind() != Kind.OBJECT && e.kind() != Kind.DESCRIPTOR) {
                continue;
            }
            progress.update("gc: " + ++seen + " objects examined");
            if (e.kind() == Kind.OBJECT ? referenced.contains(e.path()) : descriptors.contains(e.name())) {
                kept++;
                continue;
            }
            if (!dryRun) {
                store.remove(e.dir(), e.name());
            }
            progress.clear();
            log.accept((dryRun ? "would remove " : "removed ") + e.path() + " (" + e.size() + " bytes)");
            removed.add(e.path());
            freed += e.size();
        }
        removeTemps(store, entries, dryRun, log);
        progress.clear();
        return new GcReport(kept, removed, freed);
    }

    private static void removeTemps(ObjectStore store, List<Entry> entries, boolean dryRun, Consumer<String> log)
            throws IOException {
        for (Entry e : entries) {
            if (e.kind() == Kind.TEMP) {
                if (!dryRun) {
                    store.remove(e.dir(), e.name());
                }
                log.accept((dryRun ? "would remove " : "removed ") + "leftover temporary file " + e.path());
            }
        }
    }

    /** Every entry of the store, classified; nothing is followed or opened beyond directories. */
    static List<Entry> list(ObjectStore store) throws IOException {
        List<Entry> out = new ArrayList<>();
        for (dirent_h.Entry top : readDir(store, store.rootFd(), "")) {
            String name = new String(top.name(), StandardCharsets.ISO_8859_1);
            sys_stat_h.Statx st = stat(store, store.rootFd(), name, name);
            boolean descriptors = name.equals(ObjectStore.DESCRIPTORS);
            if (st.type() == sys_stat_h.S_IFDIR && (isHex(name, 2) || descriptors)) {
                int dir = store.dirFd(name, false);
                for (dirent_h.Entry e : readDir(store, dir, name)) {
                    String child = new String(e.name(), StandardCharsets.ISO_8859_1);
                    sys_stat_h.Statx cst = stat(store, dir, child, name + "/" + child);
                    Kind kind;
                    if (child.startsWith(ObjectStore.TEMP_PREFIX) && cst.type() == sys_stat_h.S_IFREG) {
                        kind = Kind.TEMP;
                    } else if (isHex(child, descriptors ? 64 : 62) && cst.type() == sys_stat_h.S_IFREG) {
                        kind = descriptors ? Kind.DESCRIPTOR : Kind.OBJECT;
                    } else {
                        kind = Kind.UNEXPECTED;
                    }
                    out.add(new Entry(name, child, kind, cst.size()));
                }
            } else {
                out.add(new Entry("", name, Kind.UNEXPECTED, st.size()));
            }
        }
        return out;
    }

    private static List<dirent_h.Entry> readDir(ObjectStore store, int fd, String rel) throws IOException {
        try {
            List<dirent_h.Entry> list = ObjectStore.list(fd, store.where(rel));
            list.sort((a, b) -> Arrays.compareUnsigned(a.name(), b.name()));
            return list;
        } catch (SyscallException e) {
            throw new IOException(store.where(rel) + ": " + e.getMessage(), e);
        }
    }

    private static sys_stat_h.Statx stat(ObjectStore store, int dirFd, String name, String rel) throws IOException {
        try {
            return sys_stat_h.statx(dirFd, name, fcntl_h.AT_SYMLINK_NOFOLLOW,
                    sys_stat_h.STATX_TYPE | sys_stat_h.STATX_SIZE);
        } catch (SyscallException e) {
            throw new IOException(store.where(rel) + ": " + e.getMessage(), e);
        }
    }

    private static boolean isHex(String s, int length) {
        if (s.length() != length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }
}
