package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and large input through the launchers, as a user would give it: every failure is one
 * line naming the file or option, a non-zero exit, no Java stack trace, no hang, nothing half
 * written; large and deep inputs simply work.
 */
class HardeningTest {
    @TempDir
    static Path tmp;

    /** One line (or a few), no stack trace. */
    private static void oneClearLine(Cli.Result r, String mustContain) {
        assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), "no stack trace: " + r.stderr());
        assertTrue(r.stderr().contains(mustContain), "names '" + mustContain + "': " + r.stderr());
        assertTrue(r.stderr().lines().count() <= 3, "a short message: " + r.stderr());
    }

    private static Cli.Result sh(String script) throws Exception {
        return Cli.run(List.of("/bin/bash", "-c", script), null,
                Map.of("B", Cli.repo().resolve("bin").toString(), "T", tmp.toString()));
    }

    private static Path write(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text, StandardCharsets.ISO_8859_1);
    }

    // ---- item 1: directories larger than the writer's window, from a directory and a dump ----

    @Test
    void largeDirectoriesFromADirectoryAndFromADump() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("bigdir/d"));
        TreeSet<String> names = new TreeSet<>();
        for (int i = 0; i < 30_000; i++) {
            String n = String.format("%05d-", i) + "n".repeat(i % 200);
            names.add(n);
            Files.createFile(src.resolve(n));
        }
        Path img = tmp.resolve("bigdir.cfs");
        Cli.Result r = Cli.run("mkcomposefs", tmp.resolve("bigdir").toString(), img.toString());
        assertEquals(0, r.exit(), r.stderr());
        Cli.Result ls = Cli.run("composefs-info", "ls", img.toString());
        assertEquals(0, ls.exit(), ls.stderr());
        List<String> listed = ls.out().lines().filter(l -> l.startsWith("/d/") && !l.equals("/d/\t"))
                .map(l -> l.substring(3)).toList();
        assertEquals(new ArrayList<>(names), listed, "every entry, in order");

        // what the before-stop check feeds it: 25,000 entries in one directory and 1,500 levels
        StringBuilder dump = new StringBuilder("/ 4096 40755 3 0 0 0 0.0 - - -\n/d 4096 40755 2 0 0 0 0.0 - - -\n");
        for (int i = 0; i < 25_000; i++) {
            dump.append(String.format("/d/entry-with-a-fairly-long-name-%06d 3 100644 1 0 0 0 0.0 - abc -\n", i));
        }
        StringBuilder p = new StringBuilder();
        for (int i = 0; i < 1500; i++) {
            p.append("/n");
            dump.append(p).append(" 4096 40755 2 0 0 0 0.0 - - -\n");
        }
        Path d = write("big.dump", dump.toString());
        r = Cli.run("mkcomposefs", "--from-file", d.toString(), tmp.resolve("big.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stderr());
    }

    // ---- item 6: write errors on standard output ----

    @Test
    void writeErrorsOnStandardOutputFail() throws Exception {
        Path d = write("small.dump", "/ 4096 40755 2 0 0 0 0.0 - - -\n/f 100 100644 1 0 0 0 0.0 "
                + "ab/" + "c".repeat(62) + " - " + "ab" + "c".repeat(62) + "\n");
        Path img = tmp.resolve("small.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", d.toString(), img.toString()).exit());
        for (String cmd : List.of(
                "$B/mkcomposefs --from-file " + d + " - > /dev/full",
                "$B/mkcomposefs --from-file " + d + " --print-digest " + tmp.resolve("x.cfs") + " > /dev/full",
                "$B/mkcomposefs --from-file " + d + " --print-digest-only > /dev/full",
                "$B/composefs-info dump " + img + " > /dev/full",
                "$B/composefs-info ls " + img + " > /dev/full",
                "$B/composefs-info objects " + img + " > /dev/full")) {
            Cli.Result r = sh(cmd);
            assertNotEquals(0, r.exit(), cmd);
            oneClearLine(r, "standard output");
        }
        // a pipe whose reader is gone: the writer must not report success; it ends as a C
        // program killed by SIGPIPE does, silently with status 141
        Cli.Result r = sh("$B/mkcomposefs --from-file /dev/stdin - < " + d
                + " | (exec 0<&-; true); echo \"${PIPESTATUS[0]}\"");
        assertEquals("141", r.out().trim(), "exit of a write into a closed pipe: " + r.stderr());
        assertEquals("", r.stderr());
    }

    // ---- items 9, 10, 16: FIFOs, devices, pipes as input ----

    @Test
    void fifosDevicesAndPipesNeverHangOrCrash() throws Exception {
        Path fifo = tmp.resolve("fifo");
        Cli.run("/usr/bin/mkfifo", fifo.toString());
        Path store = Files.createDirectories(tmp.resolve("store-fifo"));
        for (List<String> cmd : List.of(
                List.of("composefs-info", "ls", fifo.toString()),
                List.of("composefs-info", "dump", "/dev/zero"),
                List.of("composefs-info", "ls", "/dev/zero"),
                List.of("composefs", "store", "gc", store.toString(), "/dev/zero"),
                List.of("composefs-dump", "/dev/zero", tmp.resolve("out.cfs").toString()))) {
            long t0 = System.nanoTime();
            Cli.Result r = Cli.run(cmd, null, Map.of());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "no hang: " + cmd);
            assertEquals(1, r.exit(), cmd + ": " + r.stderr());
            oneClearLine(r, cmd.get(cmd.size() - 1).equals(tmp.resolve("out.cfs").toString()) ? "/dev/zero"
                    : cmd.get(cmd.size() - 1));
        }
        assertFalse(Files.exists(tmp.resolve("out.cfs")), "nothing half written");

        // an image read from a pipe (/dev/stdin) dumps as the file does
        Path img = tmp.resolve("pipe.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", write("pipe.dump", """
                / 4096 40755 2 0 0 0 0.0 - - - user.a=1
                /f 3 100644 1 0 0 0 0.0 - abc - user.a=1 user.b=2
                /l 1 120777 1 0 0 0 0.0 f - -
                """).toString(), img.toString()).exit());
        Cli.Result viaFile = Cli.run("composefs-info", "dump", img.toString());
        Cli.Result viaPipe = sh("cat " + img + " | $B/composefs-info dump /dev/stdin");
        assertEquals(0, viaPipe.exit(), viaPipe.stderr());
        assertArrayEquals(viaFile.stdout(), viaPipe.stdout());
    }

    // ---- item 11: long hardlink chains ----

    @Test
    void longHardlinkChainsResolveInLinearTime() throws Exception {
        StringBuilder d = new StringBuilder("/ 4096 40755 2 0 0 0 0.0 - - -\n/f0 3 100644 40001 0 0 0 0.0 - abc -\n");
        for (int i = 1; i <= 40_000; i++) {
            d.append("/f").append(i).append(" 3 @100644 40001 0 0 0 0.0 /f").append(i - 1).append(" - -\n");
        }
        Path dump = write("links.dump", d.toString());
        long t0 = System.nanoTime();
        Cli.Result r = Cli.run("mkcomposefs", "--from-file", dump.toString(), tmp.resolve("links.cfs").toString());
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(seconds < 20, "40k chained hardlinks took " + seconds + " s");
        String out = Cli.run("composefs-info", "dump", tmp.resolve("links.cfs").toString()).out();
        assertTrue(out.contains("\n/f40000 3 @100644 40001 0 0 0 0.0 /f0 abc -\n"), "every link names the inode");
    }

    // ---- item 12: NUL bytes ----

    @Test
    void nulBytesAreRefusedWithTheLine() throws Exception {
        String root = "/ 4096 40755 2 0 0 0 0.0 - - -\n";
        for (String[] c : List.of(
                new String[] {"/a\\x00b 3 100644 1 0 0 0 0.0 - abc -", "file name"},
                new String[] {"/l 3 120777 1 0 0 0 0.0 a\\x00b - -", "target of symlink"},
                new String[] {"/p 100 100644 1 0 0 0 0.0 ab/c\\x00d - -", "payload"},
                new String[] {"/x 0 100644 1 0 0 0 0.0 - - - user.a\\x00b=1", "xattr name"})) {
            Path dump = write("nul.dump", root + c[0] + "\n");
            Path img = tmp.resolve("nul.cfs");
            Cli.Result r = Cli.run("mkcomposefs", "--from-file", dump.toString(), img.toString());
            assertEquals(1, r.exit(), c[0]);
            oneClearLine(r, "line 2");
            assertTrue(r.stderr().contains(c[1]) && r.stderr().contains("NUL"), r.stderr());
            assertFalse(Files.exists(img));
        }
    }

    // ---- item 15: composefs-info dump prints what upstream prints ----

    /**
     * Upstream's conformance dumps are composefs-info dump output of upstream's images: ours of
     * the image mkcomposefs builds from each is that dump byte for byte. Left out, with the
     * reason: the dumps upstream itself parses leniently, whose fields are not canonical
     * (no-newline, longlink, honggfuzz-longlink-unterminated), a chardev dumped with a size
     * (images store none: honggfuzz-chardev-nonzero-size), and special_v1.dump, a link to
     * special.dump in upstream's tree that the snapshot holds as text.
     */
    @Test
    void dumpOfEveryCanonicalConformanceImageIsUpstreamsDump() throws Exception {
        List<String> notCanonical = List.of("no-newline.dump", "longlink.dump",
                "honggfuzz-longlink-unterminated.dump", "honggfuzz-chardev-nonzero-size.dump", "special_v1.dump");
        Cli.assets(); // skips, saying how to provide them, where they are not
        int compared = 0;
        try (var s = Files.newDirectoryStream(Cli.assets(), "*.dump*")) {
            for (Path asset : s) {
                String name = asset.getFileName().toString();
                if (name.startsWith("should-fail") || notCanonical.contains(name)
                        || !(name.endsWith(".dump") || name.endsWith(".dump.gz"))) {
                    continue;
                }
                Path dump = tmp.resolve("canon.dump");
                if (name.endsWith(".gz")) {
                    try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(asset))) {
                        Files.write(dump, in.readAllBytes());
                    }
                } else {
                    Files.copy(asset, dump, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                List<String> version = new ArrayList<>();
                Path v = asset.resolveSibling(name + ".version");
                if (Files.exists(v)) {
                    String n = Files.readString(v).trim();
                    version = List.of("--min-version=" + n, "--max-version=" + n);
                }
                Path img = tmp.resolve("canon.cfs");
                List<String> mk = new ArrayList<>(List.of("mkcomposefs"));
                mk.addAll(version);
                mk.addAll(List.of("--from-file", dump.toString(), img.toString()));
                Cli.Result r = Cli.run(mk, null, Map.of("CFS_PARSE_STRICT", "1"));
                assertEquals(0, r.exit(), name + ": " + r.stderr());
                Cli.Result out = Cli.run("composefs-info", "dump", img.toString());
                assertEquals(0, out.exit(), out.stderr());
                assertEquals(Files.readString(dump, StandardCharsets.ISO_8859_1), out.out(), name);
                // and composefs-dump rewrites the image through the library, same version, same bytes
                Path again = tmp.resolve("canon2.cfs");
                Cli.Result cd = Cli.run("composefs-dump", img.toString(), again.toString());
                assertEquals(0, cd.exit(), cd.stderr());
                assertEquals(-1L, Files.mismatch(img, again), name + ": composefs-dump rewrites the same image");
                compared++;
            }
        }
        assertTrue(compared >= 9, "canonical conformance dumps compared: " + compared);
    }

    // ---- item 17: --filter ----

    @Test
    void filterShowsOnlyTheNamedTopLevelEntries() throws Exception {
        Path img = tmp.resolve("filter.cfs");
        Path dump = write("filter.dump", """
                / 4096 40755 4 0 0 0 0.0 - - -
                /a 4096 40755 2 0 0 0 0.0 - - -
                /a/x 3 100644 2 0 0 0 0.0 - abc -
                /b 3 100644 1 0 0 0 0.0 - def -
                /c 4096 40755 2 0 0 0 0.0 - - -
                /c/y 3 @100644 2 0 0 0 0.0 /a/x - -
                /d 4096 40755 2 0 0 0 0.0 - - -
                """);
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", dump.toString(), img.toString()).exit());
        Cli.Result r = Cli.run("composefs-info", "--filter=c", "--filter", "b", "dump", img.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("""
                / 4096 40755 5 0 0 0 0.0 - - -
                /b 3 100644 1 0 0 0 0.0 - def -
                /c 40 40755 2 0 0 0 0.0 - - -
                /c/y 3 @100644 2 0 0 0 0.0 /a/x abc -
                """, r.out().replaceFirst("^/ [0-9]+ ", "/ 4096 "));
        r = Cli.run("composefs-info", "--filter=a", "ls", img.toString());
        assertEquals("/a/\t\n/a/x\n", r.out());
    }

    // ---- item 3: payloads as the kernel resolves them; items 4, 7: ingest ----

    @Test
    void gcAndMissingObjectsResolvePayloadsLikeTheKernel() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("gc-src"));
        Files.writeString(src.resolve("one"), "1".repeat(100));
        Files.writeString(src.resolve("two"), "2".repeat(100));
        Files.writeString(src.resolve("three"), "3".repeat(100));
        Path store = tmp.resolve("gc-store");
        Path canon = tmp.resolve("gc-canon.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), canon.toString()).exit());
        String dump = Cli.run("composefs-info", "dump", canon.toString()).out();
        List<String> objects = Cli.run("composefs-info", "objects", canon.toString()).out().lines().toList();
        assertEquals(3, objects.size());
        // the same objects, named as the kernel still finds them: ./07/x, 07/./x, 07//x
        String odd = dump.replace(objects.get(0) + " ", "./" + objects.get(0) + " ")
                .replace(objects.get(1) + " ", objects.get(1).replace("/", "/./") + " ")
                .replace(objects.get(2) + " ", objects.get(2).replace("/", "//") + " ");
        Path oddImg = tmp.resolve("gc-odd.cfs");
        Path oddDump = write("gc-odd.dump", odd);
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", oddDump.toString(), oddImg.toString()).exit());
        Cli.Result missing = Cli.run("composefs-info", "--basedir=" + store, "missing-objects", oddImg.toString());
        assertEquals("", missing.out(), "all present: " + missing.stderr());
        Cli.Result gc = Cli.run("composefs", "store", "gc", store.toString(), oddImg.toString());
        assertEquals(0, gc.exit(), gc.stderr());
        assertTrue(gc.out().contains("removed 0 objects"), gc.out());
        for (String o : objects) {
            assertTrue(Files.isRegularFile(store.resolve(o)), "kept " + o);
        }
        // a payload leaving the store and a symlink planted in it are never present
        String escaping = dump.replace(objects.get(0) + " ", "../../etc/" + objects.get(0) + " ");
        Path escImg = tmp.resolve("gc-esc.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", write("gc-esc.dump", escaping).toString(),
                escImg.toString()).exit());
        missing = Cli.run("composefs-info", "--basedir=" + store, "missing-objects", escImg.toString());
        assertTrue(missing.out().contains("../../etc/" + objects.get(0)), missing.out());
        assertTrue(missing.stderr().contains("leaves the store"), missing.stderr());
        Path victim = store.resolve(objects.get(1));
        Path real = tmp.resolve("planted-target");
        Files.move(victim, real);
        Files.createSymbolicLink(victim, real);
        missing = Cli.run("composefs-info", "--basedir=" + store, "missing-objects", canon.toString());
        assertEquals(objects.get(1) + "\n", missing.out(), "a symlink in the store is no object");
    }

    /** A file rewritten while it is ingested never becomes an object whose content does not match its name. */
    @Test
    void aChangingSourceNeverPoisonsTheStore() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("busy-src"));
        Path busy = src.resolve("busy");
        byte[] a = new byte[4 << 20];
        byte[] b = new byte[4 << 20];
        java.util.Arrays.fill(b, (byte) 1);
        Files.write(busy, a);
        AtomicBoolean stop = new AtomicBoolean();
        Thread writer = new Thread(() -> {
            try (var ch = java.nio.channels.FileChannel.open(busy, java.nio.file.StandardOpenOption.WRITE)) {
                for (long i = 0; !stop.get(); i++) {
                    ch.write(java.nio.ByteBuffer.wrap((i & 1) == 0 ? a : b), 0);
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        writer.start();
        int failed = 0;
        try {
            for (int run = 0; run < 6; run++) {
                Path store = tmp.resolve("busy-store-" + run);
                Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(),
                        tmp.resolve("busy.cfs").toString());
                if (r.exit() != 0) {
                    failed++;
                    oneClearLine(r, "busy");
                    assertTrue(r.stderr().contains("changed"), r.stderr());
                }
                // whatever happened, every object in the store is what its name says
                try (var w = Files.walk(store)) {
                    for (Path o : w.filter(f -> Files.isRegularFile(f)
                            && f.getParent().getFileName().toString().matches("[0-9a-f]{2}")).toList()) {
                        String name = store.relativize(o).toString().replace("/", "");
                        Cli.Result fv = Cli.run("/usr/bin/env", "fsverity", "digest", "--compact", o.toString());
                        assertEquals(name, fv.out().trim(), "object " + o + " holds what its name says");
                    }
                }
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        assertTrue(failed > 0, "a file rewritten all the time during 6 ingests must have been caught changing");
    }

    @Test
    void treesDeeperThanPathMaxIngest() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("deep-src"));
        try {
            deepIngest(src);
        } finally {
            // JUnit's cleanup opens paths whole and cannot remove a tree this deep; rm walks by fds
            Cli.run("/bin/rm", "-rf", src.toString());
        }
    }

    private static void deepIngest(Path src) throws Exception {
        // 3000 levels of 2-byte names: 9000-byte paths, more than PATH_MAX
        Cli.Result made = Cli.run(List.of("/usr/bin/env", "python3", "-c", """
                import os, sys
                fd = os.open(sys.argv[1], os.O_RDONLY)
                for i in range(3000):
                    os.mkdir("dd", dir_fd=fd)
                    n = os.open("dd", os.O_RDONLY, dir_fd=fd)
                    os.close(fd)
                    fd = n
                f = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(f, b"x" * 1000)
                os.close(f)
                """, src.toString()), null, Map.of());
        assertEquals(0, made.exit(), made.stderr());
        Path img = tmp.resolve("deep.cfs");
        Path store = tmp.resolve("deep-store");
        Cli.Result r = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), img.toString());
        assertEquals(0, r.exit(), r.stderr());
        Cli.Result ls = Cli.run("composefs-info", "ls", img.toString());
        assertEquals(0, ls.exit(), ls.stderr());
        assertEquals(3001, ls.out().lines().count());
        String object = Cli.run("composefs-info", "objects", img.toString()).out().trim();
        assertTrue(ls.out().lines().anyMatch(l -> l.endsWith("/leaf\t@ " + object)),
                "the leaf 3000 levels down is backed by its object");
    }

    /** The helper's own arguments: each -o stands alone, and no option string is echoed whole. */
    @Test
    void optionArgumentsStandAlone() throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve("opt-mnt"));
        Path img = tmp.resolve("opt.cfs");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", write("opt.dump", "/ 4096 40755 2 0 0 0 0.0 - - -\n")
                .toString(), img.toString()).exit());
        // the trailing backslash stays in the first -o; upperdir= alone then lacks its workdir=
        Cli.Result r = Cli.run("mount.composefs", "-f", img.toString(), mnt.toString(), "-o", "basedir=" + tmp + "\\",
                "-o", "upperdir=" + tmp);
        assertEquals(1, r.exit());
        oneClearLine(r, "upperdir= and workdir= go together");
        String huge = "x".repeat(10_000);
        r = Cli.run("mount.composefs", "-f", img.toString(), mnt.toString(), "-o", "basedir=" + tmp + "," + huge);
        assertEquals(1, r.exit());
        oneClearLine(r, "unsupported option");
        assertTrue(r.stderr().length() < 400, "the option is not echoed whole: " + r.stderr().length() + " chars");
    }
}
