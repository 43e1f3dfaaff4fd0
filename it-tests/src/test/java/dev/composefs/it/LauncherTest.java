package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The launchers as users meet them: through symlinks, from anywhere, with an old java first on PATH. */
class LauncherTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    private static final String DUMP = "/ 4096 40755 2 0 0 0 1700000000.0 - - -\n"
            + "/hello 12 100644 1 0 0 0 1700000000.0 - hello\\x20world\\n - user.k=v\n"
            + "/big 100000 100644 1 0 0 0 1700000000.0 ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 - -\n";

    @Test
    void worksThroughASymlinkWithJava17FirstOnPath() throws Exception {
        Path link = tmp.resolve("mount.composefs");
        Files.createSymbolicLink(link, Cli.repo().resolve("bin/mount.composefs"));
        String path = "/usr/lib/jvm/java-17-openjdk-amd64/bin:" + System.getenv("PATH");
        Cli.Result r = Cli.run(List.of(link.toString(), "--version"), null, Map.of("PATH", path, "JAVA_HOME", ""));
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().startsWith("mount.composefs (composefs-java)"), r.out());
        Cli.Result help = Cli.run(List.of(Cli.repo().resolve("bin/mkcomposefs").toString(), "--help"), null,
                Map.of("PATH", path));
        assertEquals(0, help.exit(), help.stderr());
        assertTrue(help.out().contains("--print-digest-only"), help.out());
    }

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
     * A run of one composefs subcommand makes only that one's picocli model: reflecting over
     * every command was 10-20 ms of each run (the OCI hook runs twice per container). The jar is run by java
     * itself, with the class log the launcher silences.
     */
    @Test
    void aSubcommandRunMakesOnlyItsOwnCommand() throws Exception {
        Path log = tmp.resolve("classes.log");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Cli.Result r = Cli.run(List.of(java, "-Xlog:class+load=info:file=" + log, "-jar", launcherJar().toString(),
                "composefs", "fstab-line", "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a"), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().contains(" /mnt/a composefs "), r.out());
        String loaded = Files.readString(log);
        assertTrue(loaded.contains(" dev.composefs.cli.MountUnitCommand$Fstab source:"), "the command itself");
        for (String other : List.of("OciCommand", "OciHookCommand", "StoreCommand", "SignCommand", "VerifyCommand",
                "EnableVerityCommand", "ManPages")) {
            assertFalse(loaded.contains(" dev.composefs.cli." + other + " source:"), other + " was loaded");
        }
    }

    /**
     * A picocli command's run takes picocli's classes from its class data cache. picocli's jar
     * holds Java 5 class files, which no AOT cache keeps, so they were loaded and verified from
     * the jar in every run: 35 ms of a 137 ms `composefs fstab-line`, twice per container for the
     * OCI hook. The build compiles picocli's sources as current class files (picocli-recompiled).
     * The cache is the one the launcher recorded, run with the launcher's flags and the class
     * log the launcher silences.
     */
    @Test
    void aPicocliCommandTakesPicocliFromItsCache() throws Exception {
        assumeRuntimeMade("the launcher's JDK is older than 25: it keeps a dynamic archive, no AOT cache");
        Path inst = install();
        List<String> args = List.of("fstab-line", "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a");
        List<String> viaLauncher = new java.util.ArrayList<>(List.of(inst.resolve("bin/composefs").toString()));
        viaLauncher.addAll(args);
        Cli.Result recorded = Cli.run(viaLauncher, null, Map.of());
        assertEquals(0, recorded.exit(), recorded.stderr());
        Path cache;
        try (var files = Files.list(inst.resolve("mount-helper/target/startup"))) {
            cache = files.filter(f -> f.toString().endsWith("-fstab-line.aot")).findFirst().orElseThrow();
        }
        Path log = tmp.resolve("classes.log");
        List<String> withLog = new java.util.ArrayList<>(List.of("/bin/bash", "-c",
                "REPO=$1; shift; . \"$REPO/bin/lib/common.sh\" && locate_jdk"
                        + " && select_runtime \"$REPO/mount-helper/target/startup\" && jit_flags composefs \"$@\""
                        + " && exec \"$RUNTIME/bin/java\" $JIT_FLAGS -XX:AOTCache=\"$AOT\" -Xlog:class+load=info:file=\"$LOG\""
                        + " -jar \"$REPO\"/mount-helper/target/mount-helper-*.jar composefs \"$@\"",
                "-", inst.toString()));
        withLog.addAll(args);
        Cli.Result r = Cli.run(withLog, null, Map.of("AOT", cache.toString(), "LOG", log.toString()));
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(recorded.out(), r.out());
        List<String> picocli = Files.readAllLines(log).stream().filter(l -> l.contains(" picocli.")).toList();
        assertTrue(picocli.size() > 100, "picocli's classes loaded: " + picocli.size());
        assertEquals(List.of(), picocli.stream().filter(l -> !l.endsWith(" source: shared objects file")).toList(),
                "picocli's classes not from the cache");
    }

    /**
     * The OCI hook's outside run (state on stdin, config.json, nsenter) links no downcall: it
     * runs at every container start, and the FFM linker alone is some 370 classes and a stub
     * spun at run time. A container without composefs annotations is the common case.
     */
    @Test
    void theHooksOutsideRunLinksNoDowncall() throws Exception {
        Path bundle = Files.createDirectories(tmp.resolve("hook-bundle"));
        Files.writeString(bundle.resolve("config.json"), "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}}");
        Path state = Files.writeString(tmp.resolve("hook-state.json"), "{\"ociVersion\":\"1.0.2\",\"id\":\"c\","
                + "\"status\":\"creating\",\"pid\":1,\"bundle\":\"" + bundle + "\"}");
        Path log = tmp.resolve("hook-classes.log");
        Cli.Result r = Cli.run(List.of("/bin/bash", "-c",
                "REPO=$1; . \"$REPO/bin/lib/common.sh\" && locate_jdk && select_runtime \"$REPO/mount-helper/target/startup\""
                        + " && { jit_flags composefs oci-hook; exec \"$RUNTIME/bin/java\" $JIT_FLAGS"
                        + " -Xlog:class+load=info:file=\"$LOG\" -jar \"$REPO\"/mount-helper/target/mount-helper-*.jar"
                        + " composefs oci-hook; }",
                "-", Cli.repo().toString()), state, Map.of("LOG", log.toString()));
        assertEquals(0, r.exit(), r.stderr());
        List<String> loaded = Files.readAllLines(log);
        assertTrue(loaded.size() > 500, "the class log was written: " + loaded.size());
        assertEquals(List.of(), loaded.stream().filter(l -> l.contains("DowncallStub")).toList(), "downcalls linked");
    }

    /** Man pages for every subcommand, from the picocli model, that groff renders without a warning. */
    @Test
    void manPagesForEveryCommandRenderCleanly() throws Exception {
        Path dir = tmp.resolve("man");
        Cli.Result r = Cli.run("composefs", "generate-man-pages", dir.toString());
        assertEquals(0, r.exit(), r.stderr());
        for (String page : List.of("composefs", "composefs-store", "composefs-sign", "composefs-verify",
                "composefs-enable-verity", "composefs-mount-unit", "composefs-fstab-line", "composefs-oci-hook",
                "composefs-oci", "composefs-oci-import", "composefs-oci-pull", "composefs-info")) {
            Path f = dir.resolve(page + ".1");
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
     * measure-file prints each file's digest in the order named, as fsverity-utils computes it:
     * a small file, a large one (hashed in parts by every core), a sparse one, a pipe. The first
     * file it cannot read ends it, after the digests before it (as upstream's), with one line
     * naming the file and the error.
     */
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
     * A checkout built by root and run by another user after a rebuild: its class data cache is
     * stale and not that user's to remove. The launcher runs without it, quietly; a stale AOT
     * cache the JVM took for current ran the classes it held instead of the rebuilt jar's.
     */
    @Test
    void aStaleCacheAUserMayNotRemoveIsNotUsed() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root: runs the launcher as another user");
        Path inst = install();
        Path target = inst.resolve("mount-helper/target");
        Path jar = launcherJar();
        Path src = source("src");
        String mkcomposefs = inst.resolve("bin/mkcomposefs").toString();
        Cli.Result first = Cli.run(mkcomposefs, "--print-digest-only", src.toString()); // records the cache
        assertEquals(0, first.exit(), first.stderr());
        Path cache;
        try (var files = Files.list(target.resolve("startup"))) {
            cache = files.filter(f -> f.toString().endsWith(".aot") || f.toString().endsWith(".jsa")).findFirst()
                    .orElseThrow();
        }
        // rebuilt: the jar is newer than the cache
        Files.setLastModifiedTime(target.resolve(jar.getFileName()),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path trace = tmp.resolve("openat.log");
        Cli.Result r = Cli.run(List.of("/usr/bin/strace", "-f", "-qq", "-e", "trace=openat", "-o", trace.toString(),
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", mkcomposefs, "--print-digest-only",
                src.toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stderr(), "nothing said about a cache that is not the user's");
        assertEquals(first.out(), r.out());
        assertTrue(Files.exists(cache), "still there: the user may not remove it");
        assertFalse(Files.readString(trace).contains(cache.getFileName().toString()), "the stale cache was opened");
    }

    /**
     * A run into a store that has objects records a class data cache of its own, apart from that
     * of a run into a new store: a cache loads at start-up every class its recording run loaded,
     * and the first run into a store, which records it, writes every object, where later ones
     * mostly find them stored.
     */
    @Test
    void runsIntoANewStoreAndIntoOneWithObjectsHaveCachesOfTheirOwn() throws Exception {
        Path inst = install();
        Path src = source("src");
        String mkcomposefs = inst.resolve("bin/mkcomposefs").toString();
        Path store = tmp.resolve("store");
        Cli.Result r = Cli.run(mkcomposefs, "--digest-store=" + store, src.toString(), tmp.resolve("a.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(List.of("mkcomposefs-*-newstore"), caches(inst));
        r = Cli.run(mkcomposefs, "--digest-store", store.toString(), src.toString(), tmp.resolve("b.cfs").toString());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(List.of("mkcomposefs-*-newstore", "mkcomposefs-*-store"), caches(inst));
        assertArrayEquals(Files.readAllBytes(tmp.resolve("a.cfs")), Files.readAllBytes(tmp.resolve("b.cfs")));
    }

    /** The class data caches of the launcher installed at inst, named without their JDK and flags part. */
    private static List<String> caches(Path inst) throws java.io.IOException {
        try (var files = Files.list(inst.resolve("mount-helper/target/startup"))) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".aot") || n.endsWith(".jsa"))
                    .map(n -> n.replaceAll("-.*-(\\w+)\\.(aot|jsa)$", "-*-$1")).sorted().toList();
        }
    }

    /**
     * A run that signs records a class data cache of its own, and so does each composefs
     * subcommand: a cache loads at start-up every class its recording run loaded, and one
     * recorded by a signing run made every later digest-only scan load the signature code's 640
     * classes (the JDK's tree: 0.20 -> 0.30 s, 44 -> 63 MB peak RSS).
     */
    @Test
    void signingRunsAndEachSubcommandRecordCachesOfTheirOwn() throws Exception {
        Signing s = signing();
        String image = tmp.resolve("a.cfs").toString();
        for (List<String> run : List.of(
                List.of(s.bin("mkcomposefs"), "--sign-key=" + s.key(), "--sign-cert=" + s.cert(), s.src(), image),
                List.of(s.bin("mkcomposefs"), "--print-digest-only", s.src()),
                List.of(s.bin("composefs"), "sign", "--key=" + s.key(), "--cert=" + s.cert(), image, image + ".sig"),
                List.of(s.bin("composefs"), "fstab-line", "--options=basedir=/srv/objects", image, "/mnt/a"))) {
            runAndUnmount(run, Map.of(), null);
        }
        assertEquals(List.of("composefs-*-line", "composefs-*-sign", "mkcomposefs-*-hash", "mkcomposefs-*-sign"),
                caches(s.inst()));
    }

    /** A mount with signature= has a cache of its own too: it loads the signature code, which other mounts do not. */
    @Test
    void aMountWithASignatureRecordsACacheOfItsOwn() throws Exception {
        MountGuard.assumeMountable();
        Signing s = signing();
        String store = tmp.resolve("store").toString();
        String image = tmp.resolve("a.cfs").toString();
        Path mnt = guard.mountpoint(tmp, "m");
        // this host's stores may lack fs-verity: signature= implies verity, tryverity relaxes the objects only
        for (List<String> run : List.of(
                List.of(s.bin("mkcomposefs"), "--digest-store=" + store, "--sign-key=" + s.key(), "--sign-cert=" + s.cert(),
                        s.src(), image),
                List.of(s.bin("mount.composefs"), image, mnt.toString(), "-o",
                        "basedir=" + store + ",signature=" + image + ".sig,trust=" + s.cert() + ",tryverity"),
                List.of(s.bin("mount.composefs"), image, mnt.toString(), "-o", "basedir=" + store + ",tryverity"))) {
            runAndUnmount(run, Map.of(), mnt);
        }
        assertEquals(List.of("mkcomposefs-*-sign", "mount.composefs-*-c1", "mount.composefs-*-sign"), caches(s.inst()));
    }

    /**
     * The OCI hook runs twice per container: outside, where it reads the runtime's state and
     * enters the container's mount namespace, and inside, where it mounts. Each part has a cache
     * of its own: with one for both, whichever recorded it decided what the other loaded
     * (bench/oci-hook, 40 containers per round: the hook added 364-366 ms with one cache,
     * 314-340 ms with two).
     */
    @Test
    void theOciHookInsideAndOutsideTheContainerHaveCachesOfTheirOwn() throws Exception {
        MountGuard.assumeMountable();
        Path inst = install();
        Path src = source("src");
        String store = tmp.resolve("store").toString();
        String image = tmp.resolve("a.cfs").toString();
        Path rootfs = tmp.resolve("rootfs");
        Path mnt = guard.mountpoint(rootfs, "m");
        String composefs = inst.resolve("bin/composefs").toString();
        runAndUnmount(List.of(inst.resolve("bin/mkcomposefs").toString(), "--digest-store=" + store, src.toString(), image),
                Map.of(), null);
        Path state = Files.writeString(tmp.resolve("state.json"),
                "{\"ociVersion\": \"1.0.2\", \"id\": \"c\", \"status\": \"stopped\", \"bundle\": \"" + tmp + "\"}");
        Cli.Result outside = Cli.run(List.of(composefs, "oci-hook"), state, Map.of());
        assertEquals(0, outside.exit(), outside.stderr());
        // what the outer part runs in the container's namespace, here in the test's own
        Cli.Result inside = Cli.run(List.of(composefs, "oci-hook", "--inside", "--rootfs", rootfs.toString(), "--target",
                "/mnt/m", "--options", "basedir=" + store, "--image", image), null, Map.of());
        assertEquals(0, inside.exit(), inside.stderr());
        assertTrue(MountGuard.mounted(mnt), inside.stderr());
        assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
        assertEquals(List.of("composefs-*-hook", "composefs-*-inside", "mkcomposefs-*-newstore"), caches(inst));
    }

    /**
     * An installation missing a jar of its class path (a partial copy, a package that lost one)
     * fails with one line naming the class, as every other failure does, not with the JVM's
     * stack trace: on the lean path (mkcomposefs signing without Bouncy Castle's provider) and
     * on picocli's (any composefs subcommand without picocli).
     */
    @Test
    void aJarMissingFromTheClassPathIsOneLine() throws Exception {
        Signing s = signing();
        Path lib = s.inst().resolve("mount-helper/target/lib");
        try (var jars = Files.list(lib)) {
            for (Path jar : jars.filter(j -> j.getFileName().toString().matches("(bcprov|picocli).*\\.jar")).toList()) {
                Files.delete(jar);
            }
        }
        Cli.Result sign = Cli.run(s.bin("mkcomposefs"), "--sign-key=" + s.key(), "--sign-cert=" + s.cert(), s.src(),
                tmp.resolve("a.cfs").toString());
        assertEquals(1, sign.exit());
        List<String> said = sign.stderr().lines().toList();
        assertEquals(1, said.size(), sign.stderr());
        assertTrue(said.get(0).startsWith("mkcomposefs: internal error: java.lang.NoClassDefFoundError: org/bouncycastle/"),
                said.get(0));
        assertFalse(Files.exists(tmp.resolve("a.cfs")), "no image without its signature");
        Cli.Result fstab = Cli.run(s.bin("composefs"), "fstab-line", "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a");
        assertEquals(1, fstab.exit());
        assertEquals(List.of("composefs: internal error: java.lang.NoClassDefFoundError: picocli/CommandLine"),
                fstab.stderr().lines().toList());
    }

    /** A launcher installed without caches, a source tree, and an RSA key with its self-signed certificate. */
    private record Signing(Path inst, String src, String key, String cert) {
        String bin(String program) {
            return inst.resolve("bin").resolve(program).toString();
        }
    }

    /** The key and certificate are made by openssl. */
    private Signing signing() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed");
        String key = tmp.resolve("key.pem").toString();
        String cert = tmp.resolve("cert.pem").toString();
        assertEquals(0, Cli.run("/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", key).exit());
        assertEquals(0, Cli.run("/usr/bin/openssl", "req", "-new", "-x509", "-key", key, "-out", cert, "-days", "1",
                "-subj", "/CN=launcher test").exit());
        return new Signing(install(), source("src").toString(), key, cert);
    }

    /** A copy of the launchers with the built jar and its class path, and no class data cache yet. */
    private Path install() throws Exception {
        Path inst = tmp.resolve("inst");
        Path target = Files.createDirectories(inst.resolve("mount-helper/target"));
        Path built = Cli.repo().resolve("mount-helper/target");
        Path jar = launcherJar();
        assertEquals(0, Cli.run("/bin/cp", "-a", Cli.repo().resolve("bin").toString(), jar.toString(),
                built.resolve("lib").toString(), inst.toString()).exit());
        Files.move(inst.resolve(jar.getFileName()), target.resolve(jar.getFileName()));
        Files.move(inst.resolve("lib"), target.resolve("lib"));
        return inst;
    }

    /**
     * A downcall stub is spun at its first use, with some 20 classes of method handles around it,
     * every run: a directory scan links exactly two, syscall(2) and libcrypto's SHA-256 (one
     * signature for its three calls). A libc wrapper linked for nothing on the way (the xattr
     * lists of directories and symlinks once did) shows here. The jar is run by java itself: the
     * launcher silences the JVM's logging.
     */
    @Test
    void aDirectoryScanLinksTwoDowncallShapes() throws Exception {
        assumeTrue(Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")),
                "needs x86-64 with libcrypto.so.3: elsewhere other calls go through their libc wrappers");
        Path src = source("src/dir");
        Files.createSymbolicLink(src.resolve("link"), Path.of("f"));
        Files.setAttribute(src, "user:k", "v".getBytes(StandardCharsets.UTF_8));
        Path jar = launcherJar();
        Path log = tmp.resolve("classes.log");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Cli.Result r = Cli.run(List.of(java, "-Xlog:class+load=info:file=" + log, "-jar", jar.toString(), "mkcomposefs",
                "--print-digest-only", tmp.resolve("src").toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        Cli.Result viaLauncher = Cli.run("mkcomposefs", "--print-digest-only", tmp.resolve("src").toString());
        assertEquals(viaLauncher.out(), r.out());
        List<String> stubs = Files.readAllLines(log).stream().filter(l -> l.contains("DowncallStub")).toList();
        assertEquals(2, stubs.size(), String.join("\n", stubs));
    }

    /**
     * On JDK 25+ the launcher runs its commands on a runtime of its own whose method handle holder
     * classes have the lambda forms of our downcalls (bin/lib/lambda-forms): a form missing
     * there is spun as a class at every start. Each kind of run (its own AOT cache) once to record
     * its cache, then again with the JDK's resolution trace, which must name no form the holders
     * lack. A change to the bindings that brings new forms fails here with the lines to add.
     */
    @Test
    void everyLambdaFormOfACommandIsInTheHolderClasses() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root: one of the commands is a mount");
        assumeRuntimeMade("the launcher's JDK is older than 25: it keeps the forms in a dynamic archive of its own");
        MountGuard.assumeMountable();
        Path inst = install();
        Path src = source("src/dir");
        Files.createSymbolicLink(src.resolve("link"), Path.of("f"));
        Files.setAttribute(src, "user:k", "v".getBytes(StandardCharsets.UTF_8));
        Path dump = Files.writeString(tmp.resolve("tree.dump"), DUMP);
        Path store = tmp.resolve("store");
        Path image = tmp.resolve("a.cfs");
        Path mnt = guard.mountpoint(tmp, "m");
        String bin = inst.resolve("bin") + "/";
        Path newStore = tmp.resolve("store2");
        List<List<String>> runs = List.of(
                List.of(bin + "mkcomposefs", "--print-digest-only", src.toString()),
                List.of(bin + "mkcomposefs", "--digest-store=" + store, src.toString(), image.toString()),
                List.of(bin + "mkcomposefs", "--digest-store=" + store, src.toString(), image.toString()),
                List.of(bin + "mkcomposefs", "--from-file", dump.toString(), tmp.resolve("b.cfs").toString()),
                List.of(bin + "composefs-info", "ls", image.toString()),
                List.of(bin + "composefs-info", "measure-file", src.resolve("f").toString()),
                List.of(bin + "composefs", "store", "fsck", store.toString()),
                List.of(bin + "mount.composefs", image.toString(), mnt.toString(), "-o", "basedir=" + store));
        for (List<String> run : runs) { // each records its kind's cache, the second into the store its own
            runAndUnmount(run, Map.of(), mnt);
        }
        Set<String> missing = new java.util.TreeSet<>();
        boolean intoNewStore = true;
        for (List<String> run : runs) {
            if (run.contains("--digest-store=" + store) && intoNewStore) { // the new store's cache again
                run = List.of(run.get(0), "--digest-store=" + newStore, src.toString(), tmp.resolve("c.cfs").toString());
                intoNewStore = false;
            }
            Cli.Result r = runAndUnmount(run, Map.of("JAVA_TOOL_OPTIONS", "-Djava.lang.invoke.MethodHandle.TRACE_RESOLVE=true"), mnt);
            r.out().lines().filter(l -> l.startsWith("[LF_RESOLVE] ") && l.endsWith(" (fail)"))
                    .forEach(l -> missing.add("@lambda-form-invoker " + l.substring(0, l.length() - " (fail)".length())));
        }
        assertTrue(runtime(inst).isPresent(), "no runtime was made");
        assertEquals(Set.of(), missing, "lines to add to bin/lib/lambda-forms");
    }

    /**
     * The runtime the launcher makes from its JDK is made again when the JDK changes (its release
     * file differs), and a class data cache recorded on the old runtime is not used on the new one.
     */
    @Test
    void theRuntimeIsMadeAgainForAnUpdatedJdk() throws Exception {
        runtimeMadeAgainAfter("jdk.release", stamp -> stamp.replace("JAVA_RUNTIME_VERSION=\"", "JAVA_RUNTIME_VERSION=\"0"));
    }

    /** A checkout updated to another module list (a command may need a module more) gets a new runtime too. */
    @Test
    void theRuntimeIsMadeAgainForAnotherModuleList() throws Exception {
        runtimeMadeAgainAfter("composefs.modules", list -> list.replace("java.base,", ""));
    }

    /**
     * Makes the runtime, changes its stamp file by edit, and checks that the next command makes
     * the runtime again, with the same output, and leaves no cache older than the new runtime.
     */
    private void runtimeMadeAgainAfter(String stampFile, java.util.function.UnaryOperator<String> edit) throws Exception {
        assumeRuntimeMade("the launcher's JDK is older than 25: it makes no runtime");
        Path inst = install();
        Path src = source("src");
        String mkcomposefs = inst.resolve("bin/mkcomposefs").toString();
        Cli.Result first = Cli.run(mkcomposefs, "--print-digest-only", src.toString());
        assertEquals(0, first.exit(), first.stderr());
        Path startup = inst.resolve("mount-helper/target/startup");
        Path runtime = runtime(inst).orElseThrow();
        Path stamp = runtime.resolve(stampFile);
        Path modules = runtime.resolve("lib/modules");
        java.nio.file.attribute.FileTime made = Files.getLastModifiedTime(modules);
        String current = Files.readString(stamp);
        String edited = edit.apply(current);
        assertFalse(edited.equals(current), stampFile + " was not changed: " + current);
        Files.writeString(stamp, edited);
        Cli.Result again = Cli.run(mkcomposefs, "--print-digest-only", src.toString());
        assertEquals(0, again.exit(), again.stderr());
        assertEquals("", again.stderr());
        assertEquals(first.out(), again.out());
        assertEquals(current, Files.readString(stamp), "the runtime was not made again");
        assertTrue(Files.getLastModifiedTime(modules).compareTo(made) > 0, "the runtime's modules are the old ones");
        try (var files = Files.list(startup)) {
            for (Path cache : files.filter(f -> f.toString().endsWith(".aot")).toList()) {
                assertFalse(Files.getLastModifiedTime(cache).compareTo(Files.getLastModifiedTime(modules)) < 0,
                        cache + " is older than the runtime it would run on");
            }
        }
    }

    /**
     * Once its cache exists, the launcher forks nothing on the way to java: the script replaces
     * itself with the JVM (each fork and exec cost a mount a millisecond or more).
     */
    @Test
    void theLauncherForksNothingOnTheWayToJava() throws Exception {
        Path src = source("src");
        Cli.Result first = Cli.run("mkcomposefs", "--print-digest-only", src.toString()); // the cache, if none yet
        assertEquals(0, first.exit(), first.stderr());
        Path trace = tmp.resolve("exec.log");
        Cli.Result r = Cli.run(List.of("/usr/bin/strace", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o",
                trace.toString(), Cli.repo().resolve("bin/mkcomposefs").toString(), "--print-digest-only", src.toString()),
                null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(first.out(), r.out());
        List<String> calls = Files.readAllLines(trace).stream().takeWhile(l -> !l.contains("/bin/java\"")).toList();
        assertEquals(1, calls.size(), "before java: " + String.join("\n", calls));
        assertTrue(calls.get(0).startsWith("execve(\"" + Cli.repo().resolve("bin/mkcomposefs")), calls.get(0));
    }

    /** Runs a command, which must succeed, and unmounts mnt after a mount (the launcher's or the jar's). */
    private static Cli.Result runAndUnmount(List<String> run, Map<String, String> env, Path mnt) throws Exception {
        Cli.Result r = Cli.run(run, null, env);
        assertEquals(0, r.exit(), run + ": " + r.stderr());
        if (run.stream().anyMatch(a -> a.endsWith("mount.composefs"))) {
            assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
        }
        return r;
    }

    /**
     * A plain mount copies its strings and paths into native memory without
     * MemorySegment.copy(array, ...), whose switch on the array's type spins a class at its first
     * use, every run: 0.9 MB more of the helper's peak RSS (Native.copy).
     * The jar is run by java itself, with the class log the launcher silences.
     */
    @Test
    void aPlainMountSpinsNoTypeSwitchForItsCopies() throws Exception {
        MountGuard.assumeMountable();
        Path src = source("src");
        Path store = tmp.resolve("store");
        Path image = tmp.resolve("a.cfs");
        Cli.Result made = Cli.run("mkcomposefs", "--digest-store=" + store, src.toString(), image.toString());
        assertEquals(0, made.exit(), made.stderr());
        Path mnt = guard.mountpoint(tmp, "m");
        Path log = tmp.resolve("classes.log");
        String java = ProcessHandle.current().info().command().orElseThrow();
        runAndUnmount(List.of(java, "-Xint", "-Xlog:class+load=info:file=" + log, "-jar", launcherJar().toString(),
                "mount.composefs", image.toString(), mnt.toString(), "-o", "basedir=" + store), Map.of(), mnt);
        List<String> classes = Files.readAllLines(log);
        assertTrue(classes.stream().anyMatch(l -> l.contains("DowncallStub")), "the log shows the classes spun");
        assertEquals(List.of(), classes.stream().filter(l -> l.contains("BaseAndScale$$TypeSwitch")).toList());
    }

    /** A directory under tmp with one file, f, long enough to go to the store rather than inline. */
    private Path source(String dir) throws java.io.IOException {
        Path src = Files.createDirectories(tmp.resolve(dir));
        Files.writeString(src.resolve("f"), "some content, more than 64 bytes, so that it is not inlined: 0123456789");
        return src;
    }

    /** Skips the calling test, saying why, unless the launcher's JDK is one it makes a runtime of (25+). */
    private static void assumeRuntimeMade(String why) throws Exception {
        Cli.Result feature = Cli.run("/bin/bash", "-c", "REPO=" + Cli.repo() + "; . \"$REPO/bin/lib/common.sh\";"
                + " locate_jdk && jdk_feature_of \"$JDK\" && echo \"$JDK_FEATURE\"");
        assertEquals(0, feature.exit(), feature.stderr());
        assumeTrue(Integer.parseInt(feature.out().trim()) >= 25, why);
    }

    /** The runtime the launcher installed at inst made from its JDK, if it made one. */
    private static java.util.Optional<Path> runtime(Path inst) throws java.io.IOException {
        try (var files = Files.list(inst.resolve("mount-helper/target/startup"))) {
            return files.filter(f -> f.getFileName().toString().startsWith("runtime-")).findFirst();
        }
    }

    /** The jar the launchers run (mount-helper/target/mount-helper-VERSION.jar). */
    private static Path launcherJar() throws java.io.IOException {
        try (var jars = Files.list(Cli.repo().resolve("mount-helper/target"))) {
            return jars.filter(f -> f.getFileName().toString().matches("mount-helper-.*\\.jar")).findFirst().orElseThrow();
        }
    }
}
