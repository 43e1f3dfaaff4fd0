package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * mkcomposefs SOURCEDIR IMAGE end to end: the image of a tree the test builds must dump exactly
 * as an independently written dump of that tree, and that dump must build the same bytes. Runs
 * as any user, on the tree that user can make (SourceTree.PRIVILEGED); two cases need root.
 */
class IngestTest {
    @TempDir
    static Path work;
    @RegisterExtension
    final MountGuard guard = new MountGuard();
    static Path src;

    @BeforeAll
    static void tree() throws Exception {
        src = work.resolve("src");
        SourceTree.build(src);
    }

    private static String dump(Path image) throws Exception {
        Cli.Result r = Cli.run("composefs-info", "dump", image.toString());
        assertEquals(0, r.exit(), r.stderr());
        return r.out();
    }

    /** The files of a store, sorted, each checked to be named by its digest as fsverity-utils computes it. */
    private static List<Path> objectsNamedByTheirDigests(Path store) throws Exception {
        List<Path> objects;
        try (Stream<Path> s = Files.walk(store)) {
            objects = s.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path o : objects) {
            String name = store.relativize(o).toString().replace("/", "");
            assertEquals(name, SourceTree.sh("fsverity", "digest", "--compact", o.toString()).trim());
        }
        return objects;
    }

    /** Builds with flags, checks the dump against the independent one, then rebuilds from that dump. */
    private static byte[] buildAndCheck(String name, SourceTree.Flags flags, String... options) throws Exception {
        Path image = work.resolve(name + ".cfs");
        List<String> argv = new ArrayList<>(List.of("mkcomposefs"));
        argv.addAll(List.of(options));
        argv.addAll(List.of(src.toString(), image.toString()));
        Cli.Result r = Cli.run(argv, null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        String expected = SourceTree.expectedDump(src, flags);
        assertEquals(expected, SourceTree.withoutDirectorySizes(dump(image)), "dump of " + argv);
        Path dumpFile = Files.writeString(work.resolve(name + ".dump"), expected.replaceAll(
                "(?m)^(\\S+) - (4[0-7]{4} )", "$1 0 $2"), StandardCharsets.ISO_8859_1);
        Path rebuilt = work.resolve(name + "-rebuilt.cfs");
        List<String> again = new ArrayList<>(List.of("mkcomposefs", "--from-file"));
        Stream.of(options).filter(o -> o.startsWith("--min-version") || o.startsWith("--max-version")).forEach(again::add);
        again.addAll(List.of(dumpFile.toString(), rebuilt.toString()));
        r = Cli.run(again, null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        byte[] bytes = Files.readAllBytes(image);
        assertArrayEquals(Files.readAllBytes(rebuilt), bytes, "image from the directory != image from its dump");
        return bytes;
    }

    @Test
    void imageOfATreeMatchesAnIndependentDumpOfIt() throws Exception {
        Path store = work.resolve("store-default");
        byte[] image = buildAndCheck("default", SourceTree.Flags.NONE, "--digest-store=" + store);
        // the digest printed is the image's, as fsverity-utils measures it
        Cli.Result r = Cli.run("mkcomposefs", "--print-digest-only", src.toString());
        assertEquals(0, r.exit(), r.stderr());
        Path img = Files.write(work.resolve("default-copy.cfs"), image);
        String reference = SourceTree.sh("fsverity", "digest", "--compact", img.toString()).trim();
        assertEquals(reference + "\n", r.out());
    }

    /**
     * --format=descriptor: the kernel driver's descriptor of the same tree dumps as an
     * independently written dump with the format's limits (every non-empty file backed, nlink
     * only for regular files, no overlayfs whiteout marks), puts every backed file in the store,
     * shows the same directory sizes as the EROFS image, and prints the digest fsverity-utils
     * measures. A dump with inline content is refused, naming the file, and writes nothing.
     */
    @Test
    void descriptorOfATreeMatchesAnIndependentDumpOfIt() throws Exception {
        Path store = work.resolve("store-descriptor");
        Path descriptor = work.resolve("tree.cfsd");
        Cli.Result r = Cli.run("mkcomposefs", "--format=descriptor", "--hardlinks", "--digest-store=" + store,
                "--print-digest", src.toString(), descriptor.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(SourceTree.sh("fsverity", "digest", "--compact", descriptor.toString()).trim() + "\n", r.out());
        String dump = dump(descriptor);
        assertEquals(SourceTree.expectedDump(src, new SourceTree.Flags(false, false, false, false, true, false, true)),
                SourceTree.withoutDirectorySizes(dump));

        Path image = work.resolve("tree-for-descriptor.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--hardlinks", src.toString(), image.toString()).exit());
        assertEquals(directorySizes(dump(image)), directorySizes(dump), "stat shows the same directory sizes");

        r = Cli.run("composefs-info", "missing-objects", "--basedir=" + store, descriptor.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.out(), "every backed file, small ones too, is in the store");
        r = Cli.run("composefs-info", "objects", descriptor.toString());
        assertTrue(r.out().lines().count() > Cli.run("composefs-info", "objects", image.toString()).out().lines()
                .count(), "the descriptor backs the files the image inlines");
        Cli.Result ls = Cli.run("composefs-info", "ls", descriptor.toString());
        assertEquals(0, ls.exit(), ls.stderr());
        assertTrue(ls.out().contains("\t@ "), ls.out());

        Path inline = Files.writeString(work.resolve("inline.dump"),
                "/ 4096 40755 2 0 0 0 0.0 - - -\n/small 5 100644 1 0 0 0 0.0 - hello -\n");
        Path refused = work.resolve("refused.cfsd");
        r = Cli.run("mkcomposefs", "--format=descriptor", "--from-file", inline.toString(), refused.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("/small") && r.stderr().contains("inline content"), r.stderr());
        assertFalse(Files.exists(refused));
        r = Cli.run("mkcomposefs", "--format=squashfs", src.toString(), refused.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("--format=squashfs"), r.stderr());
    }

    /** path -> size of each directory line of a dump. */
    private static Map<String, String> directorySizes(String dump) {
        Map<String, String> sizes = new java.util.TreeMap<>();
        for (String line : dump.split("\n")) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[2].startsWith("4") && f[2].length() == 5) {
                sizes.put(f[0], f[1]);
            }
        }
        return sizes;
    }

    @Test
    void scanFlagsAsUpstream() throws Exception {
        byte[] plain = buildAndCheck("plain", SourceTree.Flags.NONE);
        byte[] epoch = buildAndCheck("epoch", new SourceTree.Flags(true, false, false, false, false, false, false), "--use-epoch");
        buildAndCheck("nodev", new SourceTree.Flags(false, true, false, false, false, false, false), "--skip-devices");
        buildAndCheck("noxattr", new SourceTree.Flags(false, false, true, false, false, false, false), "--skip-xattrs");
        buildAndCheck("userx", new SourceTree.Flags(false, false, false, true, false, false, false), "--user-xattrs");
        byte[] hard = buildAndCheck("hardlinks", new SourceTree.Flags(false, false, false, false, true, false, false), "--hardlinks");
        assertNotEquals(new String(plain, StandardCharsets.ISO_8859_1), new String(epoch, StandardCharsets.ISO_8859_1));
        assertTrue(hard.length < plain.length || !java.util.Arrays.equals(hard, plain), "--hardlinks changes the image");
        byte[] v0 = buildAndCheck("v0", new SourceTree.Flags(false, false, false, false, false, true, false), "--min-version=0", "--max-version=0");
        if (SourceTree.PRIVILEGED) { // only root's tree has a whiteout (a 0:0 device)
            assertFalse(java.util.Arrays.equals(v0, plain), "the tree has a whiteout: version 1 differs from version 0");
        }
        // the thread count never changes the result
        byte[] one = buildAndCheck("threads1", SourceTree.Flags.NONE, "--threads=1");
        byte[] many = buildAndCheck("threads7", SourceTree.Flags.NONE, "--threads=7");
        assertArrayEquals(one, many);
        assertArrayEquals(plain, one);
        // far more threads than files, or than a JVM can start: capped, the same image (this ended the JVM)
        assertArrayEquals(one, buildAndCheck("threads100000", SourceTree.Flags.NONE, "--threads=100000"));
    }

    @Test
    void storeHoldsEachBackedFileOnceAsUpstreamLaysItOut() throws Exception {
        Path store = work.resolve("store-layout");
        Path image = work.resolve("layout.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        List<Path> objects = objectsNamedByTheirDigests(store);
        String dump = dump(image);
        List<String> payloads = dump.lines().map(l -> l.split(" ")).filter(f -> f.length > 8 && f[8].length() == 65)
                .map(f -> f[8]).distinct().sorted().toList();
        assertEquals(payloads, objects.stream().map(p -> store.relativize(p).toString()).toList(),
                "one object per distinct backed content (inline files stay in the image)");
        for (Path o : objects) {
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(o)));
        }
        try (Stream<Path> s = Files.walk(store)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".tmp")), "no temporary file left");
        }
        // on this host: one clear warning; where the store's fs has fs-verity: sealed objects
        long warnings = r.stderr().lines().filter(l -> l.contains("does not support fs-verity")).count();
        if (warnings == 0) {
            for (Path o : objects) {
                assertTrue(SourceTree.sh("fsverity", "measure", o.toString()).startsWith("sha256:"), o.toString());
            }
        } else {
            assertEquals(1, warnings, r.stderr());
            assertTrue(r.stderr().contains("not kernel-sealed"), r.stderr());
        }
        r = Cli.run("composefs-info", "missing-objects", "--basedir=" + store, image.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.out());
        Path gone = objects.get(0);
        Files.move(gone, work.resolve("moved-away"));
        r = Cli.run("composefs-info", "missing-objects", "--basedir=" + store, image.toString());
        assertEquals(store.relativize(gone) + "\n", r.out());
        // a rerun fills the gap and rewrites nothing that exists
        long before = Files.getLastModifiedTime(objects.get(1)).toMillis();
        r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(Files.exists(gone));
        assertEquals(before, Files.getLastModifiedTime(objects.get(1)).toMillis());
    }

    /**
     * A warm store of 6000 objects, about 23 in each subdirectory: enough lookups in each for
     * the store to read it whole rather than look up each object (ObjectListing). What it read
     * only ever says "stored": an object removed before the rerun is looked up and written again,
     * nothing else is rewritten, and an object replaced by a symlink is still refused.
     */
    @Test
    void aWarmStoreReadWholeRestoresWhatIsMissingAndRefusesWhatWasPlanted() throws Exception {
        Path tree = Files.createDirectories(work.resolve("many-src"));
        java.util.Random random = new java.util.Random(6000);
        for (int i = 0; i < 6000; i++) {
            byte[] b = new byte[100]; // over 64 bytes: backed by an object, not inline
            random.nextBytes(b);
            Files.write(tree.resolve("f" + i), b);
        }
        Path plain = work.resolve("many-plain.cfs");
        assertEquals(0, Cli.run("mkcomposefs", tree.toString(), plain.toString()).exit());
        Path store = work.resolve("store-many");
        Path image = work.resolve("many.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, tree.toString(), image.toString()).exit());
        List<Path> objects;
        try (Stream<Path> s = Files.walk(store)) {
            objects = s.filter(Files::isRegularFile).sorted().toList();
        }
        assertEquals(6000, objects.size());
        Map<Path, Long> mtimes = new java.util.HashMap<>();
        for (Path o : objects) {
            mtimes.put(o, Files.getLastModifiedTime(o).toMillis());
        }
        Path gone = objects.get(4321);
        Files.delete(gone);
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, tree.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertArrayEquals(Files.readAllBytes(plain), Files.readAllBytes(image));
        assertEquals(store.relativize(gone).toString().replace("/", ""),
                SourceTree.sh("fsverity", "digest", "--compact", gone.toString()).trim(), "the missing object, written again");
        for (Path o : objects) {
            if (!o.equals(gone)) {
                assertEquals(mtimes.get(o), Files.getLastModifiedTime(o).toMillis(), o + " rewritten");
            }
        }

        Path planted = objects.get(1234);
        Files.delete(planted);
        Files.createSymbolicLink(planted, objects.get(1235));
        r = Cli.run("mkcomposefs", "--digest-store=" + store, tree.toString(), image.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains(store.relativize(planted) + ": not a regular file (something was planted"),
                r.stderr());
    }

    @Test
    void aStoreOnAnotherFilesystemGetsCopiesHashedOnTheirWay() throws Exception {
        // Between filesystems neither a reflink nor copy_file_range works (EXDEV): the copy
        // goes through the digester's buffer and is hashed as it is written.
        Path shm = Path.of("/dev/shm");
        assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm)
                && !Files.getFileStore(shm).equals(Files.getFileStore(work)),
                "needs /dev/shm writable and on another filesystem than " + work);
        Path big = randomFiles(work.resolve("big-src"), 21, (1 << 20) + 1, 3 * (1 << 20) + 5000, 9 * (1 << 20) - 1);
        Path plain = work.resolve("big-plain.cfs");
        assertEquals(0, Cli.run("mkcomposefs", big.toString(), plain.toString()).exit());
        Path store = Files.createTempDirectory(shm, "composefs-it-store");
        try {
            storeLarge(big, store, plain, 3);
        } finally {
            try (Stream<Path> s = Files.walk(store)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * Files over 1 MiB go to a store that looks new (no subdirectories yet) copied first and
     * hashed on their way; to one that has objects, hashed first while they are found stored, and
     * copied first again once they are found new. Either way: one object per content, named by
     * the digest fsverity-utils computes, equal to its source, nothing temporary left, an image
     * byte for byte the one built without a store, and nothing rewritten by a rerun.
     */
    @Test
    void largeFilesAreStoredOnceWhicheverIsDoneFirst() throws Exception {
        Path big = randomFiles(work.resolve("large-src"), 1121, 5 * (1 << 20) + 3, (1 << 20) + 1,
                (1 << 20) + 1 + 777_777, (1 << 20) + 1 + 2 * 777_777, (1 << 20) + 1 + 3 * 777_777);
        // in the same batch as the first: stored once
        Files.copy(big.resolve("f" + (5 * (1 << 20) + 3)), big.resolve("same-as-f" + (5 * (1 << 20) + 3)));
        Path plain = work.resolve("large-plain.cfs");
        assertEquals(0, Cli.run("mkcomposefs", big.toString(), plain.toString()).exit());

        Path fresh = work.resolve("store-large-fresh");
        List<Path> objects = storeLarge(big, fresh, plain, 5);
        Map<Path, Long> mtimes = new java.util.HashMap<>();
        for (Path o : objects) {
            mtimes.put(o, Files.getLastModifiedTime(o).toMillis());
        }
        storeLarge(big, fresh, plain, 5); // everything found stored: nothing rewritten
        for (Path o : objects) {
            assertEquals(mtimes.get(o), Files.getLastModifiedTime(o).toMillis(), o + " rewritten");
        }

        // a store that has objects already, none of these: hashed first until found new
        Path used = work.resolve("store-large-used");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + used, src.toString(),
                work.resolve("large-used-src.cfs").toString()).exit());
        int before = objectsNamedByTheirDigests(used).size();
        storeLarge(big, used, plain, before + 5);
    }

    /**
     * Files from 32 MiB on are hashed in parts (the whole 512 KiB spans of their Merkle tree, a
     * few MiB each) that workers with no file of their own take; the owner reads the rest and
     * joins the spans' hashes. Sizes around every boundary (the threshold, a span, a part, a
     * block), and a sparse 300 MiB file: each file's digest in the image is the one
     * fsverity-utils computes, the image is byte for byte the same with 1, 2 and 4 threads, and
     * a second run into a store, which hashes first, finds every object stored.
     */
    @Test
    void largeFilesHashedInSharedPartsGetTheDigestsFsverityUtilsComputes() throws Exception {
        int mib = 1 << 20;
        int span = 512 * 1024;
        Path big = randomFiles(work.resolve("shared-src"), 2718, 32 * mib - 1, 32 * mib, 32 * mib + 4097,
                81 * span + 4095, 41 * mib + 3);
        try (java.io.RandomAccessFile sparse = new java.io.RandomAccessFile(big.resolve("sparse").toFile(), "rw")) {
            sparse.setLength(300L * mib);
            sparse.seek(150L * mib + 5);
            sparse.write("in the middle".getBytes(StandardCharsets.US_ASCII));
        }
        byte[] image = null;
        for (String threads : List.of("1", "2", "4")) {
            Path built = work.resolve("shared-" + threads + ".cfs");
            Cli.Result r = Cli.run("mkcomposefs", "--threads=" + threads, big.toString(), built.toString());
            assertEquals(0, r.exit(), r.stderr());
            if (image == null) {
                image = Files.readAllBytes(built);
                String d = dump(built);
                try (Stream<Path> files = Files.list(big)) {
                    for (Path f : files.toList()) {
                        String digest = SourceTree.sh("fsverity", "digest", "--compact", f.toString()).trim();
                        String line = d.lines().filter(l -> l.startsWith("/" + f.getFileName() + " ")).findFirst()
                                .orElseThrow();
                        assertTrue(line.contains(" " + digest.substring(0, 2) + "/" + digest.substring(2) + " ")
                                && line.endsWith(" " + digest), "fsverity-utils: " + digest + ", the image: " + line);
                    }
                }
            } else {
                assertArrayEquals(image, Files.readAllBytes(built), threads + " threads");
            }
        }
        Path store = work.resolve("store-shared");
        for (int run = 0; run < 2; run++) {
            Path stored = work.resolve("shared-stored.cfs");
            Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, big.toString(), stored.toString());
            assertEquals(0, r.exit(), r.stderr());
            assertArrayEquals(image, Files.readAllBytes(stored), "run " + run + " into the store");
            assertEquals(6, objectsNamedByTheirDigests(store).size(), "run " + run);
        }
        // fsck hashes the large objects in shared parts too: all match, then one byte changed in
        // the middle of the largest is found
        Cli.Result fsck = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, fsck.exit(), fsck.out() + fsck.stderr());
        assertTrue(fsck.out().contains("6 objects checked") && fsck.out().contains(", 0 problems"), fsck.out());
        String digest = SourceTree.sh("fsverity", "digest", "--compact", big.resolve("f" + (41 * mib + 3)).toString()).trim();
        Path largest = store.resolve(digest.substring(0, 2)).resolve(digest.substring(2));
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(largest.toFile(), "rw")) {
            f.seek(20L * mib + 12345);
            int b = f.read();
            f.seek(20L * mib + 12345);
            f.write(b ^ 1);
        }
        fsck = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(1, fsck.exit(), fsck.out());
        assertTrue(fsck.out().contains(store.relativize(largest) + ": content does not match its name"), fsck.out());
    }

    /**
     * A store on the source's own filesystem where it can share extents (XFS, reflink on by
     * default): every object is a reflink of its file, the small ones hashed first and cloned,
     * the one over 1 MiB cloned first and its clone hashed. Objects named by the digests
     * fsverity-utils computes, equal to their sources, sharing their extents (FIEMAP, through
     * filefrag), and the image the one built without a store.
     */
    @Test
    void aStoreThatCanReflinkSharesExtentsWithTheSource() throws Exception {
        assumeTrue(SourceTree.PRIVILEGED, "mounting an XFS file system needs root");
        assumeTrue(Files.readString(Path.of("/proc/filesystems")).contains("\txfs\n"), "this kernel has no XFS");
        Path image = work.resolve("xfs.img");
        Path fs = guard.mountpoint(work, "xfs");
        SourceTree.sh("truncate", "-s", "512M", image.toString());
        SourceTree.sh("mkfs.xfs", "-q", "-m", "reflink=1", image.toString());
        SourceTree.sh("mount", "-o", "loop", image.toString(), fs.toString());
        try {
            Path tree = randomFiles(fs.resolve("src"), 29, 3 * (1 << 20) + 11, 300_000, 3000);
            Path plain = work.resolve("xfs-plain.cfs");
            assertEquals(0, Cli.run("mkcomposefs", tree.toString(), plain.toString()).exit());
            Path store = fs.resolve("store");
            storeLarge(tree, store, plain, 3);
            for (Path o : objectsNamedByTheirDigests(store)) {
                assertTrue(SourceTree.sh("filefrag", "-v", o.toString()).contains("shared"),
                        o + " shares no extent with its source");
            }
        } finally {
            SourceTree.sh("umount", fs.toString());
        }
    }

    /** Makes dir with a file of random bytes ("f" + size) for each size; returns dir. */
    private static Path randomFiles(Path dir, long seed, int... sizes) throws Exception {
        Files.createDirectories(dir);
        java.util.Random random = new java.util.Random(seed);
        for (int size : sizes) {
            byte[] b = new byte[size];
            random.nextBytes(b);
            Files.write(dir.resolve("f" + size), b);
        }
        return dir;
    }

    /** Stores tree big into store; checks the image against plain and the store's objects; returns them. */
    private static List<Path> storeLarge(Path big, Path store, Path plain, int expectedObjects) throws Exception {
        Path image = work.resolve("large-stored.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, big.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertArrayEquals(Files.readAllBytes(plain), Files.readAllBytes(image), "the store changes nothing in the image");
        List<Path> objects = objectsNamedByTheirDigests(store);
        assertEquals(expectedObjects, objects.size(), objects.toString());
        try (Stream<Path> s = Files.list(big)) {
            for (Path f : s.toList()) {
                String digest = SourceTree.sh("fsverity", "digest", "--compact", f.toString()).trim();
                Path o = store.resolve(digest.substring(0, 2)).resolve(digest.substring(2));
                assertEquals(-1, Files.mismatch(f, o), f + " and its object");
                assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(o)));
            }
        }
        try (Stream<Path> s = Files.walk(store)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".tmp")), "no temporary file left");
        }
        return objects;
    }

    /**
     * A user who may not read a file: an empty one (nothing to read, like upstream) is in the
     * image as root's scan has it, a non-empty one is an error naming it. The walk leaves a
     * regular file's statx to the worker that opens it, which falls back to O_PATH for this.
     */
    @Test
    void aScanAsAnotherUserTakesEmptyFilesItMayNotRead() throws Exception {
        assumeTrue(SourceTree.PRIVILEGED, "compares root's scan with another user's: needs root (setpriv)");
        Path tree = Files.createDirectories(work.resolve("unreadable-src/sub"));
        Files.writeString(tree.resolve("readable"), "x".repeat(100));
        Path empty = Files.createFile(tree.resolve("empty-000"));
        Files.setPosixFilePermissions(empty, PosixFilePermissions.fromString("---------"));
        Path top = tree.getParent();
        for (Path p = top; p != null && !p.equals(work.getParent()); p = p.getParent()) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.setPosixFilePermissions(tree.resolve("readable"), PosixFilePermissions.fromString("rw-r--r--"));
        Path asRoot = work.resolve("unreadable-root.cfs");
        assertEquals(0, Cli.run("mkcomposefs", top.toString(), asRoot.toString()).exit());
        Path out = Files.createDirectories(work.resolve("unreadable-out"));
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path asNobody = out.resolve("nobody.cfs");
        Cli.Result r = Cli.run(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Cli.repo().resolve("bin/mkcomposefs").toString(), top.toString(), asNobody.toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertArrayEquals(Files.readAllBytes(asRoot), Files.readAllBytes(asNobody));

        Files.writeString(tree.resolve("secret"), "not for everyone");
        Files.setPosixFilePermissions(tree.resolve("secret"), PosixFilePermissions.fromString("rw-------"));
        r = Cli.run(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Cli.repo().resolve("bin/mkcomposefs").toString(), top.toString(), asNobody.toString()), null, Map.of());
        assertEquals(1, r.exit());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        assertTrue(r.stderr().contains("sub/secret") && r.stderr().contains("EACCES"), r.stderr());
    }

    @Test
    void concurrentWritersShareOneStore() throws Exception {
        Path store = work.resolve("store-concurrent");
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ps.add(new ProcessBuilder(Cli.repo().resolve("bin/mkcomposefs").toString(), "--digest-store=" + store,
                    src.toString(), work.resolve("concurrent" + i + ".cfs").toString())
                    .redirectErrorStream(true).redirectOutput(work.resolve("concurrent" + i + ".log").toFile()).start());
        }
        for (int i = 0; i < ps.size(); i++) {
            assertTrue(ps.get(i).waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, ps.get(i).exitValue(), Files.readString(work.resolve("concurrent" + i + ".log")));
        }
        assertArrayEquals(Files.readAllBytes(work.resolve("concurrent0.cfs")),
                Files.readAllBytes(work.resolve("concurrent2.cfs")));
        Cli.Result r = Cli.run("composefs", "store", "fsck", store.toString());
        assertEquals(0, r.exit(), r.out() + r.stderr());
        assertTrue(r.out().contains(" 0 problems"), r.out());
    }

    @Test
    void plantedSymlinksInTheStoreAreRefusedNotFollowed() throws Exception {
        Path store = work.resolve("store-planted");
        Path outside = Files.createDirectories(work.resolve("outside"));
        Cli.Result r = Cli.run("mkcomposefs", "--print-digest-only", src.toString());
        assertEquals(0, r.exit());
        // plant every possible XX as a symlink to a directory outside the store
        Files.createDirectories(store);
        for (int i = 0; i < 256; i++) {
            Files.createSymbolicLink(store.resolve(String.format("%02x", i)), outside);
        }
        r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), work.resolve("planted.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("refusing to follow it"), r.stderr());
        assertTrue(Files.notExists(work.resolve("planted.cfs")), "no image on failure");
        try (Stream<Path> s = Files.list(outside)) {
            assertEquals(0, s.count(), "nothing was written through the planted symlink");
        }
    }

    @Test
    void badSourcesAndOptionsAreRefused() throws Exception {
        Cli.Result r = Cli.run("mkcomposefs", work.resolve("no-such-dir").toString(), work.resolve("x.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("no-such-dir") && r.stderr().contains("ENOENT"), r.stderr());
        Path file = Files.writeString(work.resolve("a-file"), "x");
        r = Cli.run("mkcomposefs", file.toString(), work.resolve("x.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("not a directory"), r.stderr());
        r = Cli.run("mkcomposefs", "--skip-xattrs", "--user-xattrs", src.toString(), work.resolve("x.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("--skip-xattrs and --user-xattrs"), r.stderr());
        r = Cli.run("mkcomposefs", "--threads=0", src.toString(), work.resolve("x.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("--threads"), r.stderr());
        r = Cli.run("mkcomposefs", "--from-file", "--use-epoch", file.toString(), work.resolve("x.cfs").toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("not to --from-file"), r.stderr());
        assertTrue(Files.notExists(work.resolve("x.cfs")));
        // quiet when not on a terminal: no progress line in captured output
        r = Cli.run("mkcomposefs", "--digest-store=" + work.resolve("store-quiet"), src.toString(),
                work.resolve("quiet.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        assertFalse(r.stderr().contains("\r"), "progress lines only on a terminal");
        assertTrue(Files.isDirectory(work.resolve("store-quiet"), LinkOption.NOFOLLOW_LINKS));
    }
}
