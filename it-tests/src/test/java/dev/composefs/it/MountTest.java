package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.sys_mount_h;
import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real mounts on this host: images our mkcomposefs builds from a tree the test creates, mounted
 * through mount(8), bin/mount.composefs and the orchestrator in-process (with older kernels'
 * strategies forced through the probe), compared entry by entry with the source tree. Every test
 * checks that mountinfo and the loop devices are as before it, and unmounts what it left.
 */
class MountTest {
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    @TempDir
    static Path work;
    static Path src;
    static Path store;
    static Path image;
    static String digest;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void buildImage() throws Exception {
        MountGuard.assumeMountable();
        src = work.resolve("src");
        SourceTree.build(src);
        // An overlay whiteout in the image is a whiteout in the mounted view too (it hides, it is
        // not shown), so the mounted tree would differ from the source by design: leave it out.
        Files.delete(src.resolve("dev/whiteout"));
        store = work.resolve("store");
        image = work.resolve("tree.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--hardlinks", "--print-digest", "--digest-store=" + store,
                src.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        digest = r.out().trim();
    }

    private Path mountpoint(String name) throws IOException {
        return guard.mountpoint(work, name);
    }

    private static Set<String> mounts() throws IOException {
        return MountGuard.mounts();
    }

    private static Set<String> loops() throws IOException {
        return MountGuard.loops();
    }

    private static void umount(Path mnt) throws Exception {
        SourceTree.sh("umount", mnt.toString());
    }

    private static boolean mounted(Path mnt) throws IOException {
        return MountGuard.mounted(mnt);
    }

    // ---- comparing a mounted tree with the source tree ----

    /**
     * Every path of expected exists in actual with the same type, mode, owner (through ids),
     * size, mtime, rdev, symlink target, xattrs and content, and nothing else exists in actual.
     * With hardlinks, names of one source inode are one inode (and nlink) under the mount too.
     */
    static void assertSameTree(Path expected, Path actual, boolean hardlinks, LongUnaryOperator ids) throws Exception {
        TreeMap<String, Path> want = walk(expected);
        TreeMap<String, Path> got = walk(actual);
        assertEquals(want.keySet(), got.keySet(), "paths under " + actual);
        Map<Object, Object> inodes = new java.util.HashMap<>();
        for (var e : want.entrySet()) {
            Path p = e.getValue();
            Path q = got.get(e.getKey());
            Map<String, Object> a = Files.readAttributes(p, "unix:*", NOFOLLOW);
            Map<String, Object> b = Files.readAttributes(q, "unix:*", NOFOLLOW);
            String where = e.getKey();
            int mode = (Integer) a.get("mode");
            assertEquals(Integer.toOctalString(mode), Integer.toOctalString((Integer) b.get("mode")), where + " mode");
            long uid = Integer.toUnsignedLong((Integer) a.get("uid"));
            long gid = Integer.toUnsignedLong((Integer) a.get("gid"));
            assertEquals(ids.applyAsLong(uid), Integer.toUnsignedLong((Integer) b.get("uid")), where + " uid");
            assertEquals(ids.applyAsLong(gid), Integer.toUnsignedLong((Integer) b.get("gid")), where + " gid");
            assertEquals(a.get("lastModifiedTime"), b.get("lastModifiedTime"), where + " mtime");
            int type = mode & 0170000;
            if (type == 0100000 || type == 0120000) {
                assertEquals(a.get("size"), b.get("size"), where + " size");
            }
            if (type == 0020000 || type == 0060000) {
                assertEquals(a.get("rdev"), b.get("rdev"), where + " rdev");
            }
            if (type == 0120000) {
                assertEquals(Files.readSymbolicLink(p), Files.readSymbolicLink(q), where + " target");
            }
            if (type == 0100000) {
                assertEquals(-1L, Files.mismatch(p, q), where + " content");
                if (hardlinks) {
                    assertEquals(a.get("nlink"), b.get("nlink"), where + " nlink");
                    Object prev = inodes.putIfAbsent(a.get("ino"), b.get("ino"));
                    assertEquals(prev == null ? b.get("ino") : prev, b.get("ino"), where + " is a hardlink of the same inode");
                }
            }
            assertXattrs(SourceTree.xattrs(p), SourceTree.xattrs(q), where);
        }
    }

    private static void assertXattrs(TreeMap<String, byte[]> want, TreeMap<String, byte[]> got, String where) {
        assertEquals(want.keySet(), got.keySet(), where + " xattr names");
        for (var x : want.entrySet()) {
            assertArrayEquals(x.getValue(), got.get(x.getKey()), where + " xattr " + x.getKey());
        }
    }

    private static TreeMap<String, Path> walk(Path root) throws IOException {
        TreeMap<String, Path> out = new TreeMap<>();
        try (var w = Files.walk(root)) {
            for (Path p : w.toList()) {
                out.put("/" + root.relativize(p), p);
            }
        }
        return out;
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** Every object of a store with its sha256: the store must not change under a mount. */
    private static TreeMap<String, String> contents(Path dir) throws Exception {
        TreeMap<String, String> out = new TreeMap<>();
        for (var e : walk(dir).entrySet()) {
            if (Files.isRegularFile(e.getValue(), NOFOLLOW)) {
                out.put(e.getKey(), sha256(e.getValue()));
            }
        }
        return out;
    }

    private static Cli.Result helper(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("mount.composefs"));
        argv.addAll(List.of(args));
        return Cli.run(argv, null, Map.of());
    }

    // ---- tests ----

    @Test
    void mountThroughMount8ShowsTheSourceTreeAndUmountReleasesEverything() throws Exception {
        try (HostHelper h = HostHelper.install()) {
            Path mnt = mountpoint("mount8");
            SourceTree.sh("mount", "-t", "composefs", image.toString(), mnt.toString(), "-o", "basedir=" + store);
            assertTrue(mounted(mnt));
            assertSameTree(src, mnt, true, id -> id);
            umount(mnt); // plain umount(8): the detached EROFS mount goes with the overlay
            assertFalse(mounted(mnt));
        }
    }

    /**
     * mount(8) puts an fstab entry's options first and the command line's after them: a
     * basedir= given on the command line is the one mounted, as with upstream's helper.
     */
    @Test
    void mount8sCommandLineBasedirWinsOverFstabs() throws Exception {
        try (HostHelper h = HostHelper.install()) {
            mount8sCommandLineBasedirWinsOverFstabs(mountpoint("fstab"));
        }
    }

    private void mount8sCommandLineBasedirWinsOverFstabs(Path mnt) throws Exception {
        Path fstab = Files.writeString(work.resolve("fstab"), image + " " + mnt + " composefs basedir="
                + work.resolve("no-such-store") + ",ro 0 0\n");
        SourceTree.sh("mount", "--fstab", fstab.toString(), mnt.toString(), "-o", "basedir=" + store);
        assertTrue(mounted(mnt));
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);
        Cli.Result fromFstab = Cli.run(List.of("/usr/bin/mount", "--fstab", fstab.toString(), mnt.toString()), null, Map.of());
        assertEquals(32, fromFstab.exit(), fromFstab.stderr());
        assertTrue(fromFstab.stderr().contains("basedir " + work.resolve("no-such-store") + ": not a directory"),
                fromFstab.stderr());
        assertFalse(mounted(mnt));
    }

    @Test
    void helperMountsWithGenericFlagsAndSeveralStores() throws Exception {
        // objects split over two stores, searched in order
        Path a = work.resolve("store-a");
        Path b = work.resolve("store-b");
        SourceTree.sh("cp", "-a", store.toString(), a.toString());
        SourceTree.sh("cp", "-a", store.toString(), b.toString());
        int inA = 0;
        int inB = 0;
        for (var e : walk(store).entrySet()) {
            if (Files.isRegularFile(e.getValue())) {
                boolean first = e.getKey().charAt(1) < '8';
                Files.delete((first ? b : a).resolve(e.getKey().substring(1)));
                inA += first ? 1 : 0;
                inB += first ? 0 : 1;
            }
        }
        assertTrue(inA > 0 && inB > 0, "both stores hold objects");
        Path mnt = mountpoint("two-stores");
        Cli.Result r = helper("-v", image.toString(), mnt.toString(), "-o", "basedir=" + a + ":" + b + ",nosuid,nodev,ro");
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("via overlay"), r.stderr());
        String line = mounts().stream().filter(m -> m.startsWith(mnt + " ")).findFirst().orElseThrow();
        assertTrue(line.contains("datadir+=" + a) && line.contains("datadir+=" + b), line);
        String opts = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .filter(l -> l.split(" ")[4].equals(mnt.toString())).findFirst().orElseThrow().split(" ")[5];
        assertTrue(opts.contains("nosuid") && opts.contains("nodev") && opts.startsWith("ro"), opts);
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);
    }

    /**
     * Upstream's helper takes -t composefs (its usage: [-t type] [-o opt[,opts..]] IMAGE
     * MOUNTPOINT) and parses with getopt, so flags cluster and a value may follow its letter:
     * what is written for it mounts here too. Another type is refused, as upstream refuses it.
     */
    @Test
    void helperTakesUpstreamsTypeFlagAndGetoptClusters() throws Exception {
        Path mnt = mountpoint("typed");
        Cli.Result r = helper("-t", "composefs", image.toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(0, r.exit(), r.stderr());
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);
        r = helper("-vtcomposefs", image.toString(), mnt.toString(), "-obasedir=" + store);
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("via overlay"), "-v in the cluster: " + r.stderr());
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);
        r = helper("-t", "ext4", image.toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(1, r.exit(), r.stderr());
        assertEquals(List.of("mount.composefs: unsupported filesystem type 'ext4' (-t takes only composefs)",
                "Try 'mount.composefs --help' for more information."), r.stderr().lines().toList());
        assertFalse(mounted(mnt));
    }

    @Test
    void aMissingObjectFailsOnlyItsOwnFile() throws Exception {
        Path partial = work.resolve("store-partial");
        SourceTree.sh("cp", "-a", store.toString(), partial.toString());
        Path victim = src.resolve("sizes/f100000");
        String d = SourceTree.sh("fsverity", "digest", "--compact", victim.toString()).trim();
        Files.delete(partial.resolve(d.substring(0, 2)).resolve(d.substring(2)));
        Path mnt = mountpoint("partial");
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + partial);
        assertEquals(0, r.exit(), r.stderr());
        Path missing = mnt.resolve("sizes/f100000");
        assertEquals(100_000L, Files.size(missing), "metadata of the file is still there");
        IOException e = assertThrows(IOException.class, () -> Files.readAllBytes(missing));
        assertTrue(e instanceof java.nio.file.NoSuchFileException
                || String.valueOf(e.getMessage()).contains("Input/output error"), "EIO or ENOENT: " + e);
        for (String ok : List.of("sizes/f4097", "sizes/f1048577", "links/a", "xattrs")) {
            assertEquals(-1L, Files.mismatch(src.resolve(ok), mnt.resolve(ok)), ok);
        }
        umount(mnt);
    }

    @Test
    void digestOption() throws Exception {
        Path mnt = mountpoint("digest");
        String wrong = digest.substring(0, 63) + (digest.endsWith("0") ? "1" : "0");
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",digest=" + wrong);
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("wrong fs-verity digest " + digest) && r.stderr().contains(wrong), r.stderr());
        assertFalse(mounted(mnt));
        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",digest=nothex");
        assertEquals(1, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("digest=nothex"), r.stderr());

        // digest= implies verity: on a store without fs-verity that is refused, after the digest matched
        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",digest=" + digest);
        if (r.exit() == 0) {
            umount(mnt);
            throw new org.opentest4j.TestAbortedException("this store has fs-verity; verity refusal not testable here");
        }
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("verity requested but") && r.stderr().contains(store.toString()), r.stderr());

        // with tryverity the image digest is still enforced, on a sealed copy when the file has no fs-verity
        r = helper("-v", image.toString(), mnt.toString(), "-o", "basedir=" + store + ",digest=" + digest + ",tryverity");
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("digest= checked"), r.stderr());
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);
    }

    @Test
    void verityIsRefusedWithTheReasonAndTryverityDegradesVisibly() throws Exception {
        Path mnt = mountpoint("verity");
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",verity");
        if (r.exit() == 0) {
            umount(mnt);
            throw new org.opentest4j.TestAbortedException("this host's store has fs-verity; enforcement runs in the kernel matrix");
        }
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("has no fs-verity") || r.stderr().contains("no verity= option"), r.stderr());
        assertFalse(mounted(mnt));

        // an image with a backed file that carries no digest can never be verified
        Path dump = Files.writeString(work.resolve("nodigest.dump"),
                "/ 0 40755 2 0 0 0 0.0 - - -\n/f 5000 100644 1 0 0 0 0.0 ab/cdef - -\n");
        Path img = work.resolve("nodigest.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", dump.toString(), img.toString()).exit());
        r = helper(img.toString(), mnt.toString(), "-o", "basedir=" + store + ",verity");
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("files without an fs-verity digest (/f)"), r.stderr());

        r = helper("-v", image.toString(), mnt.toString(), "-o", "basedir=" + store + ",tryverity");
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("tryverity: not enforcing fs-verity because"), r.stderr());
        umount(mnt);
    }

    @Test
    void uidmapShiftsOwnersWithoutLeavingAProcess() throws Exception {
        Path mnt = mountpoint("uidmap");
        Set<String> namespacesBefore = userNamespacesInUse();
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o",
                "basedir=" + store + ",uidmap=0:100000:70000,gidmap=0:200000:70000");
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(namespacesBefore, userNamespacesInUse(), "no process is left in the mount's user namespace");
        // owners map inside -> outside; ids outside the mapping show as the overflow id
        Path suid = mnt.resolve("modes/suid");
        assertEquals(112345, Files.getAttribute(suid, "unix:uid"));
        assertEquals(200000 + 54321, Files.getAttribute(suid, "unix:gid"));
        assertEquals(100000, Files.getAttribute(mnt.resolve("sizes/f1"), "unix:uid"));
        assertEquals(65534, Files.getAttribute(mnt.resolve("modes/none"), "unix:uid"));
        assertEquals(-1L, Files.mismatch(src.resolve("sizes/f100000"), mnt.resolve("sizes/f100000")));
        // ids inside xattrs are the kernel's to map as well: the ACL's named user (65534, the
        // second entry's id) and the file capability's root (v2 shown as v3 with its rootid)
        byte[] acl = SourceTree.xattrs(mnt.resolve("acl")).get("system.posix_acl_access");
        assertEquals(100000 + 65534, java.nio.ByteBuffer.wrap(acl).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(16));
        byte[] cap = SourceTree.xattrs(mnt.resolve("caps")).get("security.capability");
        assertEquals(24, cap.length, "VFS_CAP_REVISION_3");
        assertEquals(100000, java.nio.ByteBuffer.wrap(cap).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(20));
        umount(mnt);
    }

    private static Set<String> userNamespacesInUse() throws IOException {
        Set<String> out = new TreeSet<>();
        try (var s = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : s) {
                try {
                    out.add(Files.readSymbolicLink(p.resolve("ns/user")).toString());
                } catch (IOException gone) {
                    // process exited meanwhile
                }
            }
        }
        return out;
    }

    @Test
    void idmapUsesAGivenUserNamespace() throws Exception {
        Process holder = new ProcessBuilder("unshare", "--user", "sleep", "600").start();
        try {
            Path ns = Path.of("/proc/" + holder.pid() + "/ns/user");
            for (int i = 0; i < 100 && Files.readSymbolicLink(ns).equals(Files.readSymbolicLink(Path.of("/proc/self/ns/user"))); i++) {
                Thread.sleep(10); // until unshare has switched namespace
            }
            Files.writeString(Path.of("/proc/" + holder.pid() + "/uid_map"), "0 300000 65536\n");
            Files.writeString(Path.of("/proc/" + holder.pid() + "/gid_map"), "0 300000 65536\n");
            Path mnt = mountpoint("idmap");
            Cli.Result r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",idmap=" + ns);
            assertEquals(0, r.exit(), r.stderr());
            assertEquals(300000 + 777, Files.getAttribute(mnt.resolve("links/rel"), "unix:uid", NOFOLLOW));
            assertEquals(300000, Files.getAttribute(mnt.resolve("xattrs"), "unix:gid"));
            umount(mnt);
        } finally {
            holder.destroyForcibly().waitFor();
        }
        Cli.Result r = helper(image.toString(), work.toString(), "-o", "basedir=" + store + ",idmap=/proc/self/nonexistent");
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("idmap=/proc/self/nonexistent"), r.stderr());
    }

    @Test
    void upperdirReceivesWritesAndImageAndStoreStayUntouched() throws Exception {
        Path upper = Files.createDirectories(work.resolve("rw/upper"));
        Path wd = Files.createDirectories(work.resolve("rw/work"));
        String imageBefore = sha256(image);
        TreeMap<String, String> storeBefore = contents(store);
        Path mnt = mountpoint("rw");
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o",
                "basedir=" + store + ",upperdir=" + upper + ",workdir=" + wd + ",rw");
        assertEquals(0, r.exit(), r.stderr());
        Files.writeString(mnt.resolve("new-file"), "written through the mount");
        Files.writeString(mnt.resolve("sizes/f100000"), "replaced a backed file");
        Files.delete(mnt.resolve("sizes/f64"));
        assertEquals("written through the mount", Files.readString(upper.resolve("new-file")));
        assertEquals("replaced a backed file", Files.readString(upper.resolve("sizes/f100000")));
        assertEquals(0020000, (Integer) Files.getAttribute(upper.resolve("sizes/f64"), "unix:mode", NOFOLLOW) & 0170000,
                "deleting leaves a whiteout in upperdir");
        umount(mnt);
        assertEquals(imageBefore, sha256(image), "image unchanged");
        assertEquals(storeBefore, contents(store), "store unchanged");
        // the image alone still shows the original tree
        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(0, r.exit(), r.stderr());
        assertSameTree(src, mnt, true, id -> id);
        umount(mnt);

        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",upperdir=" + upper);
        assertEquals(1, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("upperdir= and workdir= go together"), r.stderr());

        // overlayfs' rules for the two, which it breaks with a bare EINVAL (its reason only in
        // the kernel log): named here, before anything is mounted (-f checks them too)
        Path inside = Files.createDirectories(upper.resolve("work-inside"));
        Path otherMount = Files.createDirectories(work.resolve("rw/tmpfs"));
        SourceTree.sh("mount", "-t", "tmpfs", "tmpfs", guard.mountedOver(otherMount).toString());
        Path elsewhere = Files.createDirectories(otherMount.resolve("work"));
        for (String[] c : new String[][] {
            {inside.toString(), "upperdir " + upper + " and workdir " + inside
                    + " overlap; overlayfs needs them apart (neither inside the other)"},
            {elsewhere.toString(), "upperdir " + upper + " and workdir " + elsewhere
                    + " are on different mounts; overlayfs needs them on one"},
        }) {
            for (String flag : List.of("-v", "-f")) {
                r = helper(flag, image.toString(), mnt.toString(), "-o",
                        "basedir=" + store + ",upperdir=" + upper + ",workdir=" + c[0]);
                assertEquals(32, r.exit(), r.stderr());
                assertTrue(r.stderr().endsWith("mount.composefs: " + c[1] + "\n"), r.stderr());
                assertFalse(mounted(mnt));
            }
        }
        umount(otherMount);
    }

    @Test
    void badRequestsExitLikeMount8AndNameTheProblem() throws Exception {
        Path mnt = mountpoint("bad");
        Cli.Result r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + store + ",bogus=1");
        assertEquals(1, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("unsupported option 'bogus'"), r.stderr());
        r = helper(image.toString(), mnt.toString(), "-o", "ro");
        assertEquals(1, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("basedir="), r.stderr());
        r = helper(image.toString(), mnt.toString());
        assertEquals(1, r.exit(), r.stderr());
        r = helper(work.resolve("absent.cfs").toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("absent.cfs"), r.stderr());
        r = helper(image.toString(), work.resolve("no-such-dir").toString(), "-o", "basedir=" + store);
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("no-such-dir"), r.stderr());
        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + work.resolve("no-store"));
        assertEquals(32, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("no-store"), r.stderr());
        // a file that is no image: named as such (EROFS says only EINVAL), with no loop device left
        Set<String> loopsBefore = loops();
        r = helper(src.resolve("xattrs").toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(32, r.exit(), r.stderr());
        assertEquals("mount.composefs: " + src.resolve("xattrs")
                + ": not a composefs image (no composefs header and EROFS superblock)\n", r.stderr());
        assertEquals(loopsBefore, loops());
        // without the privilege to mount (root with no capabilities): the reason, not the loop device's EACCES
        r = Cli.run(List.of("/usr/bin/setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
                Cli.repo().resolve("bin/mount.composefs").toString(), image.toString(), mnt.toString(), "-o",
                "basedir=" + store), null, Map.of());
        assertEquals(32, r.exit(), r.stderr());
        if (KernelProbe.running().erofsFileBacked()) { // before 6.12 the loop device is the first thing refused
            assertEquals("mount.composefs: " + image + ": cannot mount the image as EROFS: fsopen(erofs): EPERM "
                    + "(Operation not permitted); mounting needs root (CAP_SYS_ADMIN in the initial user namespace)\n",
                    r.stderr());
        }
        // a later basedir= replaces an earlier one, as upstream's helper takes it (fstab's, then the command line's)
        r = helper(image.toString(), mnt.toString(), "-o", "basedir=" + work.resolve("no-store") + ",basedir=" + store);
        assertEquals(0, r.exit(), r.stderr());
        umount(mnt);
        // an upperdir that is not there: the overlay fails after EROFS was set up, which must unwind
        r = helper(image.toString(), mnt.toString(), "-o",
                "basedir=" + store + ",upperdir=" + work.resolve("no-upper") + ",workdir=" + work.resolve("no-work"));
        assertEquals(32, r.exit(), r.stderr());
        assertFalse(mounted(mnt));
        // -s warns about unknown options and mounts anyway; -f checks and mounts nothing
        r = helper("-s", image.toString(), mnt.toString(), "-o", "basedir=" + store + ",bogus");
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stderr().contains("ignoring unsupported option 'bogus'"), r.stderr());
        umount(mnt);
        r = helper("-f", image.toString(), mnt.toString(), "-o", "basedir=" + store);
        assertEquals(0, r.exit(), r.stderr());
        assertFalse(mounted(mnt));
    }

    /** The strategies of older kernels, forced through the probe, on this kernel: same tree, nothing left. */
    @Test
    void olderKernelStrategies() throws Exception {
        Set<String> fs = Set.of("erofs", "overlay");
        record Case(String release, String strategy) {}
        for (Case c : List.of(new Case("6.8.0", "new mount API"), new Case("6.6.0", "'::' data-only layers"),
                new Case("6.1.0", "stores as lower layers"))) {
            Path mnt = mountpoint("kernel-" + c.release());
            List<String> log = new ArrayList<>();
            Mounter.Result res = new Mounter(KernelProbe.of(c.release(), fs), log::add)
                    .mount(image, mnt, MountOptions.parse("basedir=" + store));
            assertTrue(res.strategy().contains(c.strategy()), c + ": " + res);
            assertTrue(log.stream().anyMatch(l -> l.contains("/dev/loop")), "before 6.12 EROFS sits on a loop device: " + log);
            assertSameTree(src, mnt, true, id -> id);
            sys_mount_h.umount2(mnt.toString(), 0);
        }
    }

    /** A failure after the loop device and EROFS mount exist must release both. */
    @Test
    void failedOverlayUnwindsLoopDeviceAndErofs() throws Exception {
        Path mnt = mountpoint("unwind");
        // the store twice: overlayfs refuses layers that conflict (ELOOP), which the helper does
        // not check first, so the overlay fails after the loop device and EROFS mount were set up
        for (String release : List.of("6.8.0", "6.6.0")) {
            MountException e = assertThrows(MountException.class, () -> new Mounter(
                    KernelProbe.of(release, Set.of("erofs", "overlay")), s -> { })
                    .mount(image, mnt, MountOptions.parse("basedir=" + store + ":" + store)));
            assertFalse(e.isUsage());
            assertTrue(e.getMessage().contains(mnt.toString()), e.getMessage());
            for (int i = 0; i < 50 && !loops().equals(guard.loopsBefore()); i++) {
                Thread.sleep(20);
            }
            assertEquals(guard.loopsBefore(), loops(), "loop device released after the failure on " + release);
        }
    }
}
