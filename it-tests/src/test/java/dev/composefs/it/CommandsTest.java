package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands as users meet them: usage errors, help, man pages, outputs, digests against fsverity-utils. */
class CommandsTest {
    @TempDir
    Path tmp;

    private static final String DUMP = "/ 4096 40755 2 0 0 0 1700000000.0 - - -\n"
            + "/hello 12 100644 1 0 0 0 1700000000.0 - hello\\x20world\\n - user.k=v\n"
            + "/big 100000 100644 1 0 0 0 1700000000.0 ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 - -\n";

    @Test
    void usageErrorsExitOne() throws Exception {
        Cli.Result r = Cli.run("mkcomposefs", "--no-such-option", "a", "b");
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("--no-such-option"), r.stderr());
        Cli.Result info = Cli.run("composefs-info", "frobnicate", "x");
        assertEquals(1, info.exit());
        assertTrue(info.stderr().contains("unknown command 'frobnicate'"), info.stderr());
    }

    /** `composefs` is one picocli command: its subcommands in its help, bash completion for all of them. */
    @Test
    void theUmbrellaListsItsSubcommandsAndCompletesThem() throws Exception {
        Cli.Result r = Cli.run("composefs");
        assertEquals(1, r.exit());
        for (String sub : List.of("store", "sign", "verify", "enable-verity", "mount-unit", "fstab-line", "oci-hook", "oci")) {
            assertTrue(r.stderr().contains("\n  " + sub + " "), sub + " in: " + r.stderr());
        }
        r = Cli.run("composefs", "oci", "pull");
        assertEquals(1, r.exit());
        assertTrue(r.stderr().startsWith("composefs oci pull: Missing required"), r.stderr());
        Cli.Result completion = Cli.run("composefs", "generate-completion");
        assertEquals(0, completion.exit(), completion.stderr());
        Path script = Files.write(tmp.resolve("composefs-completion.bash"), completion.stdout());
        // bash itself: the script loads, and completing "composefs oci " offers import and pull
        Cli.Result bash = Cli.run("/bin/bash", "-c", "source " + script + " && COMP_WORDS=(composefs oci '') && COMP_CWORD=2"
                + " && COMP_LINE='composefs oci ' && COMP_POINT=${#COMP_LINE} && _complete_composefs composefs '' oci"
                + " && printf '%s\\n' \"${COMPREPLY[@]}\"");
        assertEquals(0, bash.exit(), bash.stderr());
        assertTrue(bash.out().lines().toList().containsAll(List.of("import", "pull")), bash.out());
    }

    /**
     * Man pages for every command, from the model its --help comes from (picocli's, or the help
     * text of the hand-parsed ones), that groff renders without a warning.
     */
    @Test
    void manPagesForEveryCommandRenderCleanly() throws Exception {
        Path dir = tmp.resolve("man");
        Cli.Result r = Cli.run("composefs", "generate-man-pages", dir.toString());
        assertEquals(0, r.exit(), r.stderr());
        for (String page : List.of("composefs", "composefs-store", "composefs-sign", "composefs-verify",
                "composefs-enable-verity", "composefs-mount-unit", "composefs-fstab-line", "composefs-oci-hook",
                "composefs-oci", "composefs-oci-import", "composefs-oci-pull", "composefs-info", "composefs-fuse", "mkcomposefs.1",
                "composefs-dump.1", "mount.composefs.8")) {
            Path f = dir.resolve(page.matches(".*\\.[18]") ? page : page + ".1");
            assertTrue(Files.isRegularFile(f), page);
            Cli.Result g = Cli.run(List.of("/usr/bin/groff", "-man", "-Tutf8", "-ww", f.toString()), null,
                    Map.of("LC_ALL", "C.UTF-8"));
            assertEquals(0, g.exit(), page + ": " + g.stderr());
            assertEquals("", g.stderr(), page + ": groff warns");
            String shown = g.out().replaceAll(".\b", ""); // no overstrike bold
            assertTrue(shown.contains("NAME") && shown.contains("SYNOPSIS"), page + ": " + shown);
        }
        Cli.Result pull = Cli.run(List.of("/usr/bin/groff", "-man", "-Tascii", dir.resolve("composefs-oci-pull.1").toString()),
                null, Map.of());
        String text = pull.out().replaceAll(".\b", ""); // no overstrike bold
        assertTrue(text.contains("--store STORE") && text.contains("--insecure") && text.contains("composefs-oci(1)"), text);
        Cli.Result mount = Cli.run(List.of("/usr/bin/groff", "-man", "-Tascii", dir.resolve("mount.composefs.8").toString()),
                null, Map.of());
        String helper = mount.out().replaceAll(".\b", "");
        assertTrue(helper.startsWith("MOUNT.COMPOSEFS(8)") && helper.contains("basedir=DIR[:DIR...]")
                && helper.contains("Exit status: 0 mounted, 1 usage or bad option, 32 mount failure."), helper);
    }

    @Test
    void printDigestMatchesFsverityUtils() throws Exception {
        Path dump = Files.writeString(tmp.resolve("d.dump"), DUMP);
        Path image = tmp.resolve("x.img");
        Cli.Result r = Cli.run("mkcomposefs", "--print-digest", "--from-file", dump.toString(), image.toString());
        assertEquals(0, r.exit(), r.stderr());
        Process p = new ProcessBuilder("fsverity", "digest", "--compact", image.toString()).start();
        String expected = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertEquals(0, p.waitFor(), "fsverity digest (fsverity-utils, installed by bin/test)");
        assertEquals(expected + "\n", r.out());
        Cli.Result only = Cli.run("mkcomposefs", "--print-digest-only", "--from-file", dump.toString());
        assertEquals(expected + "\n", only.out());
        Cli.Result measured = Cli.run("composefs-info", "measure-file", image.toString());
        assertEquals(expected + "\n", measured.out());
    }

    /**
     * An output that cannot be written (its directory missing, or a directory in its place) is
     * one line naming it and the errno, with no temporary file left where the directory exists:
     * the JDK names ENOENT and EACCES by exception type alone, with no reason text.
     */
    @Test
    void anOutputThatCannotBeWrittenIsOneLineWithTheReason() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("out-src"));
        Files.writeString(src.resolve("f"), "x".repeat(100));
        Path missing = tmp.resolve("no-such-dir");
        Path aDir = Files.createDirectories(tmp.resolve("a-dir"));
        String enoent = "ENOENT (No such file or directory)";
        Cli.Result r = Cli.run("mkcomposefs", src.toString(), missing.resolve("i.cfs").toString());
        assertEquals(1, r.exit());
        assertEquals("mkcomposefs: " + missing.resolve("i.cfs") + ": cannot write image: " + missing + ": " + enoent + "\n",
                r.stderr());
        r = Cli.run("mkcomposefs", src.toString(), ""); // resolved, it would name the working directory
        assertEquals(1, r.exit());
        assertEquals("mkcomposefs: empty IMAGE path\n", r.stderr());
        r = Cli.run("mkcomposefs", src.toString(), aDir.toString());
        assertEquals(1, r.exit());
        assertEquals("mkcomposefs: " + aDir + ": cannot write image: Is a directory\n", r.stderr());
        Path image = tmp.resolve("out.cfs");
        assertEquals(0, Cli.run("mkcomposefs", src.toString(), image.toString()).exit());
        r = Cli.run("composefs-dump", image.toString(), missing.resolve("d.cfs").toString());
        assertEquals(1, r.exit());
        assertEquals("composefs-dump: " + missing.resolve("d.cfs") + ": cannot write image: " + missing + ": " + enoent
                + "\n", r.stderr());
        Path key = tmp.resolve("out-key.pem");
        Path cert = tmp.resolve("out-cert.pem");
        assertEquals(0, Cli.run("/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-subj", "/CN=out", "-days", "2").exit());
        r = Cli.run("composefs", "sign", "--key=" + key, "--cert=" + cert, image.toString(), missing.resolve("s").toString());
        assertEquals(1, r.exit());
        assertEquals("composefs sign: " + missing.resolve("s") + ": cannot write the signature: " + missing + ": " + enoent
                + "\n", r.stderr());
        r = Cli.run("composefs", "sign", "--key=" + key, "--cert=" + cert, image.toString(), aDir.toString());
        assertEquals(1, r.exit());
        assertEquals("composefs sign: " + aDir + ": cannot write the signature: Is a directory\n", r.stderr());
        // an empty certificate file trusts nobody, and says so
        Path empty = Files.writeString(tmp.resolve("empty.pem"), "");
        r = Cli.run("composefs", "verify", "--trust=" + empty, image.toString(), image.toString());
        assertEquals(1, r.exit());
        assertEquals("composefs verify: " + empty + ": no certificate in the file\n", r.stderr());
        r = Cli.run("composefs", "mount-unit", "--options=basedir=/s", "/i.cfs", "/srv/x", "--install=/proc/no-such-dir");
        assertEquals(1, r.exit());
        assertEquals("composefs mount-unit: /proc/no-such-dir: cannot create the directory: " + enoent + "\n", r.stderr());
        try (var left = Files.list(aDir.getParent())) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().contains(".tmp")).toList());
        }
    }

    /**
     * measure-file prints each file's digest in the order named, as fsverity-utils computes it:
     * a small file, a large one (hashed in parts by every core), a sparse one, a pipe. The first
     * file it cannot read ends it, after the digests before it (as upstream's), with one line
     * naming the file and the error.
     */
    @Test
    void measureFilePrintsDigestsInOrderAndNamesTheFileItCannotRead() throws Exception {
        Path small = Files.writeString(tmp.resolve("small"), "hello\n");
        byte[] data = new byte[40 * (1 << 20) + 3];
        new java.util.Random(40).nextBytes(data);
        Path large = Files.write(tmp.resolve("large"), data);
        Path sparse = tmp.resolve("sparse");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        List<String> expected = new java.util.ArrayList<>();
        for (Path f : List.of(small, large, sparse, small)) {
            Process p = new ProcessBuilder("fsverity", "digest", "--compact", f.toString()).start();
            expected.add(new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip());
            assertEquals(0, p.waitFor(), "fsverity digest (fsverity-utils, installed by bin/test)");
        }
        Cli.Result r = Cli.run("composefs-info", "measure-file", small.toString(), large.toString(), sparse.toString(),
                small.toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(expected, r.out().lines().toList());
        Cli.Result pipe = Cli.run("/bin/bash", "-c", "cat " + small + " | " + Cli.repo().resolve("bin/composefs-info")
                + " measure-file /dev/stdin");
        assertEquals(0, pipe.exit(), pipe.stderr());
        assertEquals(expected.get(0) + "\n", pipe.out());
        Cli.Result dir = Cli.run("composefs-info", "measure-file", small.toString(), tmp.toString(), large.toString());
        assertEquals(1, dir.exit());
        assertEquals(expected.get(0) + "\n", dir.out());
        assertEquals("composefs-info: failed to compute the fs-verity digest of '" + tmp + "': EISDIR\n", dir.stderr());
        Cli.Result missing = Cli.run("composefs-info", "measure-file", tmp.resolve("missing").toString());
        assertEquals(1, missing.exit());
        assertEquals("composefs-info: failed to open '" + tmp.resolve("missing") + "': no such file\n", missing.stderr());
    }

    @Test
    void imageToStdoutAndToProcSelfFd() throws Exception {
        Path dump = Files.writeString(tmp.resolve("d.dump"), DUMP);
        Path image = tmp.resolve("x.img");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", dump.toString(), image.toString()).exit());
        Cli.Result stdout = Cli.run("mkcomposefs", "--from-file", dump.toString(), "-");
        assertArrayEquals(Files.readAllBytes(image), stdout.stdout());
        Path viaFd = tmp.resolve("fd.img");
        Process p = new ProcessBuilder("bash", "-c", "exec 3>" + viaFd + "; " + Cli.repo().resolve("bin/mkcomposefs")
                + " --from-file " + dump + " /proc/self/fd/3").start();
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        assertArrayEquals(Files.readAllBytes(image), Files.readAllBytes(viaFd));
    }

    @Test
    void infoCommandsShowTheImage() throws Exception {
        Path dump = Files.writeString(tmp.resolve("d.dump"), DUMP);
        Path image = tmp.resolve("x.img");
        assertEquals(0, Cli.run("mkcomposefs", "--from-file", dump.toString(), image.toString()).exit());
        assertEquals("/big\t@ ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n/hello\n",
                Cli.run("composefs-info", "ls", image.toString()).out());
        assertEquals("ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n",
                Cli.run("composefs-info", "objects", image.toString()).out());
        Path store = Files.createDirectories(tmp.resolve("store/ab"));
        assertEquals("ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n",
                Cli.run("composefs-info", "--basedir=" + store.getParent(), "missing-objects", image.toString()).out());
        Files.writeString(store.resolve("cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"), "x");
        assertEquals("", Cli.run("composefs-info", "--basedir=" + store.getParent(), "missing-objects",
                image.toString()).out());
        String dumped = Cli.run("composefs-info", "dump", image.toString()).out();
        assertTrue(dumped.contains("/hello 12 100644 1 0 0 0 1700000000.0 - hello\\x20world\\n - user.k=v\n"), dumped);
    }

    @Test
    void aFailedBuildLeavesTheOldImageAlone() throws Exception {
        Path image = Files.writeString(tmp.resolve("keep.img"), "previous image");
        Path bad = Files.writeString(tmp.resolve("bad.dump"), "/ 4096 40755 2 0 0 0 0.0 - - -\n/x 1 0 1 0 0 0 0.0 - - -\n");
        Cli.Result r = Cli.run("mkcomposefs", "--from-file", bad.toString(), image.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("line 2"), r.stderr());
        assertEquals("previous image", Files.readString(image));
        try (var files = Files.list(tmp)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().contains(".tmp")), "no temp file left");
        }
    }

    /**
     * Every command reports a failure as one line; with COMPOSEFS_DEBUG=1 the same line is
     * followed by the stack trace of what caused it.
     */
    @Test
    void composefsDebugAddsTheStackTraceOfTheReportedError() throws Exception {
        Path bad = tmp.resolve("bad.dump");
        Files.writeString(bad, "/ 4096 40755 2 0 0 0 0.0 - - -\n/x 1 100644 1 0 0 0 nonsense - - -\n");
        Path missing = tmp.resolve("missing");
        Path store = tmp.resolve("store");
        Files.createDirectories(store);
        List<List<String>> runs = List.of(
                List.of("mkcomposefs", "--from-file", missing.toString(), tmp.resolve("a.cfs").toString()),
                List.of("mkcomposefs", "--from-file", bad.toString(), tmp.resolve("a.cfs").toString()),
                List.of("mkcomposefs", missing.toString(), tmp.resolve("a.cfs").toString()),
                List.of("composefs-info", "ls", missing.toString()),
                List.of("composefs-dump", missing.toString(), tmp.resolve("b.cfs").toString()),
                List.of("composefs", "store", "fsck", missing.toString()),
                List.of("composefs", "repo", "list", missing.toString()),
                List.of("composefs", "oci", "import", "--store=" + store, "oci:" + missing, tmp.resolve("c.cfs").toString()),
                List.of("composefs", "verify", "--trust=" + missing, bad.toString(), bad.toString()),
                List.of("composefs", "sign", "--key=" + missing, "--cert=" + missing, bad.toString(), tmp.resolve("s").toString()),
                List.of("mount.composefs", missing.toString(), tmp.toString(), "-o", "basedir=" + store));
        for (List<String> argv : runs) {
            Cli.Result plain = Cli.run(argv, null, Map.of());
            assertNotEquals(0, plain.exit(), argv.toString());
            assertEquals(1, plain.stderr().lines().count(), argv + ": " + plain.stderr());
            Cli.Result debug = Cli.run(argv, null, Map.of("COMPOSEFS_DEBUG", "1"));
            assertEquals(plain.exit(), debug.exit(), argv.toString());
            List<String> lines = debug.stderr().lines().toList();
            assertEquals(plain.stderr().lines().findFirst().orElseThrow(), lines.get(0), argv.toString());
            assertTrue(lines.size() > 2 && lines.stream().anyMatch(l -> l.startsWith("\tat dev.composefs.")),
                    argv + ": no stack trace with COMPOSEFS_DEBUG=1:\n" + debug.stderr());
        }
    }
}
