package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launchers: the package's (packaging/target/stage, as the tarball and the .deb carry them)
 * and the checkout's bin/, which runs them. Through symlinks, from anywhere, never building,
 * with the cache trained at build time, and, where root runs them for others, deaf to the
 * caller's VM options.
 */
class LauncherTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    private static final String DUMP = "/ 4096 40755 2 0 0 0 1700000000.0 - - -\n"
            + "/hello 12 100644 1 0 0 0 1700000000.0 - hello\\x20world\\n - user.k=v\n"
            + "/big 100000 100644 1 0 0 0 1700000000.0 ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 - -\n";

    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    /** The launchers run the bundled runtime: a java first on PATH (here one that only fails) is never asked. */
    @Test
    void worksThroughASymlinkFromAnyDirectoryWithAnotherJavaFirstOnPath() throws Exception {
        Path fakeBin = Files.createDirectories(tmp.resolve("fake-jdk/bin"));
        Path fakeJava = Files.writeString(fakeBin.resolve("java"), "#!/bin/sh\necho 'the java on PATH was run' >&2\nexit 3\n");
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
        String path = fakeBin + ":" + System.getenv("PATH");
        for (Path target : List.of(Cli.repo().resolve("bin/mount.composefs"), Stage.dir().resolve("sbin/mount.composefs"))) {
            Path link = Files.createDirectories(tmp.resolve("links-" + target.getParent().getFileName()))
                    .resolve("mount.composefs");
            Files.createSymbolicLink(link, target);
            Cli.Result r = Cli.run(List.of("/bin/sh", "-c", "cd / && exec \"$0\" --version", link.toString()), null,
                    Map.of("PATH", path, "JAVA_HOME", "/nonexistent"));
            assertEquals(0, r.exit(), target + ": " + r.stderr());
            assertTrue(r.out().startsWith("mount.composefs (composefs-java)"), r.out());
        }
        Cli.Result help = Cli.run(List.of(Cli.repo().resolve("bin/mkcomposefs").toString(), "--help"), null,
                Map.of("PATH", path));
        assertEquals(0, help.exit(), help.stderr());
        assertTrue(help.out().contains("--print-digest-only"), help.out());
    }

    /** A fresh clone never builds: it says how, and fails. */
    @Test
    void aCheckoutThatIsNotBuiltSaysHowToBuildIt() throws Exception {
        Path clone = Files.createDirectories(tmp.resolve("clone"));
        assertEquals(0, Cli.run("/bin/cp", "-a", Cli.repo().resolve("bin").toString(), clone.toString()).exit());
        for (String cmd : List.of("mkcomposefs", "mount.composefs", "composefs")) {
            Cli.Result r = Cli.run(clone.resolve("bin").resolve(cmd).toString(), "--version");
            assertEquals(1, r.exit(), cmd);
            assertEquals("composefs: " + clone + " is not built: run 'mvn -B -DskipTests package' there (a JDK >= 22 and "
                    + "Maven; see README.md)\n", r.stderr());
            assertEquals("", r.out());
        }
        try (var files = Files.walk(clone)) {
            assertEquals(List.of(), files.filter(f -> f.toString().contains("/target")).toList(), "nothing built");
        }
    }

    /**
     * Run as root, the checkout's launchers refuse a tree that another user could change: a file
     * of it that is not root's, or that others may write, or a directory above it that others
     * may write (a sticky one like /tmp excepted).
     */
    @Test
    void asRootTheCheckoutsLaunchersRefuseATreeAnotherUserCanChange() throws Exception {
        assumeTrue(ROOT, "needs root: the launchers check ownership only when root runs them");
        Path parent = Files.createDirectories(tmp.resolve("parent"));
        Path clone = parent.resolve("clone");
        Files.createDirectories(clone.resolve("packaging/target"));
        assertEquals(0, Cli.run("/bin/cp", "-a", Cli.repo().resolve("bin").toString(), clone.toString()).exit());
        assertEquals(0, Cli.run("/bin/cp", "-a", Stage.dir().toString(), clone.resolve("packaging/target").toString()).exit());
        String mk = clone.resolve("bin/mkcomposefs").toString();
        assertEquals(0, Cli.run(mk, "--version").exit(), "a tree only root can change runs");
        Path jar = clone.resolve("packaging/target/stage/lib/composefs-java/lib").resolve(
                Files.list(Stage.lib().resolve("lib")).filter(f -> f.toString().endsWith(".jar")).findFirst().orElseThrow()
                        .getFileName());
        for (List<String> change : List.of(List.of("/bin/chown", "65534", jar.toString()),
                List.of("/bin/chmod", "g+w", jar.toString()),
                List.of("/bin/chmod", "o+w", clone.resolve("packaging").toString()),
                List.of("/bin/chown", "65534", parent.toString()))) {
            assertEquals(0, Cli.run(change, null, Map.of()).exit());
            Cli.Result r = Cli.run(mk, "--version");
            assertEquals(1, r.exit(), change.toString());
            assertTrue(r.stderr().startsWith("composefs: refusing to run " + clone.resolve("packaging/target/stage")
                    + " as root: "), r.stderr());
            assertEquals("", r.out());
            assertEquals(0, Cli.run("/bin/chown", "-R", "0:0", parent.toString()).exit());
            assertEquals(0, Cli.run("/bin/chmod", "-R", "go-w", parent.toString()).exit());
        }
        assertEquals(0, Cli.run(mk, "--version").exit(), "restored");
    }

    /**
     * What root runs for others (mount.composefs, the OCI hook's launcher) takes no VM options
     * from its caller's environment: an agent named there would run as root. The user's commands
     * do take them (so the variable below would have been felt).
     */
    @Test
    void theLaunchersRootRunsForOthersTakeNoVmOptionsFromTheEnvironment() throws Exception {
        Map<String, String> hostile = Map.of("JAVA_TOOL_OPTIONS", "-javaagent:/nonexistent-agent.jar",
                "_JAVA_OPTIONS", "-Xmx1k", "JDK_JAVA_OPTIONS", "-Xbogus", "JAVA_AOT_OPTIONS", "-XX:AOTMode=bogus",
                "CLASSPATH", "/nonexistent");
        for (String launcher : List.of("sbin/mount.composefs", "lib/composefs-java/libexec/composefs")) {
            Cli.Result r = Cli.run(List.of(Stage.dir().resolve(launcher).toString(), "--version"), null, hostile);
            assertEquals(0, r.exit(), launcher + ": " + r.stderr());
            assertEquals("", r.stderr(), launcher);
            assertTrue(r.out().contains("(composefs-java)"), r.out());
        }
        Cli.Result user = Cli.run(List.of(Stage.dir().resolve("bin/mkcomposefs").toString(), "--version"), null,
                Map.of("JAVA_TOOL_OPTIONS", "-javaagent:/nonexistent-agent.jar"));
        assertNotEquals(0, user.exit(), "a user's command takes the user's JAVA_TOOL_OPTIONS");
        assertTrue(user.stderr().contains("nonexistent-agent.jar"), user.stderr());
    }

    /** Each launcher's cache, trained at build time, maps: the JVM would refuse to start otherwise (AOTMode=on). */
    @Test
    void everyLauncherMapsTheCacheTrainedForIt() throws Exception {
        Path image = tmp.resolve("a.cfs");
        Path src = source("src");
        for (String launcher : List.of("bin/mkcomposefs", "bin/composefs-info", "bin/composefs-dump", "bin/composefs",
                "sbin/mount.composefs", "lib/composefs-java/libexec/composefs")) {
            for (String jit : launcher.endsWith("mount.composefs") ? List.of("-Xint", "") : List.of("")) {
                List<String> cmd = Stage.javaCommand(launcher, List.of("-XX:AOTMode=on"), List.of("--version"), jit);
                Cli.Result r = Cli.run(cmd, null, Map.of());
                assertEquals(0, r.exit(), launcher + " " + jit + ": " + r.stderr());
            }
        }
        Cli.Result r = Cli.run(Stage.javaCommand("bin/mkcomposefs", List.of("-XX:AOTMode=on"),
                List.of(src.toString(), image.toString()), ""), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        // podman's call: the launcher picks the cache trained on --from-file, and it maps
        Path dump = tmp.resolve("a.dump");
        Files.write(dump, Cli.run("composefs-info", "dump", image.toString()).stdout());
        r = Cli.run(Stage.javaCommand("bin/mkcomposefs", List.of("-XX:AOTMode=on"), List.of("--from-file", "-", "-"), ""),
                dump, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        Path trace = tmp.resolve("open.log");
        r = Cli.run(List.of("/usr/bin/strace", "-qq", "-f", "-e", "trace=openat", "-o", trace.toString(),
                Stage.dir().resolve("bin/mkcomposefs").toString(), "--from-file", "-", "-"), dump, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        String opened = Files.readString(trace);
        assertTrue(opened.contains("cache/mkcomposefs-from-file.aot") && !opened.contains("cache/mkcomposefs.aot"), opened);
    }

    /**
     * The package's launchers fork nothing on the way to java (each fork and exec cost a mount a
     * millisecond or more); those root runs for others exec env(1) once, for a clean environment.
     * The checkout's own launcher, for development, execs the package's.
     */
    @Test
    void theLaunchersForkNothingOnTheWayToJava() throws Exception {
        Path src = source("src");
        for (String launcher : List.of("bin/mkcomposefs", "sbin/mount.composefs")) {
            Path trace = tmp.resolve("exec.log");
            List<String> args = launcher.endsWith("mkcomposefs") ? List.of("--print-digest-only", src.toString())
                    : List.of("--version");
            List<String> cmd = new ArrayList<>(List.of("/usr/bin/strace", "-qq", "-f", "-e",
                    "trace=execve,clone,clone3,fork,vfork", "-o", trace.toString(), Stage.dir().resolve(launcher).toString()));
            cmd.addAll(args);
            Cli.Result r = Cli.run(cmd, null, Map.of());
            assertEquals(0, r.exit(), r.stderr());
            List<String> calls = Files.readAllLines(trace).stream().takeWhile(l -> !l.contains("/bin/java\"")).toList();
            List<String> execs = calls.stream().map(l -> l.replaceFirst("^\\d+ +", "")).toList();
            if (launcher.startsWith("sbin")) {
                assertEquals(2, execs.size(), "before java: " + String.join("\n", calls));
                assertTrue(execs.get(1).startsWith("execve(\"/usr/bin/env\", [\"/usr/bin/env\", \"-i\""), execs.get(1));
            } else {
                assertEquals(1, execs.size(), "before java: " + String.join("\n", calls));
            }
            assertTrue(execs.get(0).startsWith("execve(\"" + Stage.dir().resolve(launcher)), execs.get(0));
        }
    }

    /**
     * A run of one composefs subcommand makes only that one's picocli model: reflecting over
     * every command costs each run (the OCI hook runs twice per container).
     */
    @Test
    void aSubcommandRunMakesOnlyItsOwnCommand() throws Exception {
        Path log = tmp.resolve("classes.log");
        Cli.Result r = Cli.run(Stage.javaCommand("bin/composefs", List.of("-Xlog:class+load=info:file=" + log),
                List.of("fstab-line", "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a"), ""), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.out().contains(" /mnt/a composefs "), r.out());
        String loaded = Files.readString(log);
        assertTrue(loaded.contains(" dev.composefs.cli.MountUnitCommand$Fstab source:"), "the command itself");
        for (String other : List.of("OciCommand", "OciHookCommand", "StoreCommand", "SignCommand", "VerifyCommand",
                "EnableVerityCommand", "ManPages", "Completions", "RepoCommand")) {
            assertFalse(loaded.contains(" dev.composefs.cli." + other + " source:"), other + " was loaded");
        }
    }

    /**
     * A picocli command takes picocli's classes from its trained cache: picocli's own jar holds
     * Java 5 class files, which no AOT cache keeps (the build compiles picocli's sources as
     * current class files, picocli-recompiled).
     */
    @Test
    void aPicocliCommandTakesPicocliFromItsCache() throws Exception {
        Path log = tmp.resolve("classes.log");
        Cli.Result r = Cli.run(Stage.javaCommand("bin/composefs", List.of("-Xlog:class+load=info:file=" + log),
                List.of("fstab-line", "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a"), ""), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        List<String> picocli = Files.readAllLines(log).stream().filter(l -> l.contains(" picocli.")).toList();
        assertTrue(picocli.size() > 100, "picocli's classes loaded: " + picocli.size());
        assertEquals(List.of(), picocli.stream().filter(l -> !l.endsWith(" source: shared objects file")).toList(),
                "picocli's classes not from the cache");
        // Every class is in the cache, so no jar is opened: a lookup of a class on no jar (picocli
        // looks for Groovy's unless told not to) would open and read all of them.
        Path trace = tmp.resolve("picocli-open.log");
        r = Cli.run(List.of("/usr/bin/strace", "-qq", "-f", "-e", "trace=openat", "-o", trace.toString(),
                Stage.dir().resolve("bin/composefs").toString(), "fstab-line", "--options=basedir=/srv/objects",
                "/srv/a.cfs", "/mnt/a"), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(List.of(), Files.readAllLines(trace).stream().filter(l -> l.contains(".jar\"")).toList(),
                "jars opened");
    }

    /**
     * The OCI hook's outside run links one downcall shape at most: config.json is read as every
     * input is (opened without blocking, its type checked on the fd), and that is all the native
     * work it does; it runs at every container start, and each shape is a stub and some 20
     * classes spun at run time. A container without composefs annotations is the common case.
     */
    @Test
    void theHooksOutsideRunLinksOneDowncallShapeAtMost() throws Exception {
        Path bundle = Files.createDirectories(tmp.resolve("hook-bundle"));
        Files.writeString(bundle.resolve("config.json"), "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}}");
        Path state = Files.writeString(tmp.resolve("hook-state.json"), "{\"ociVersion\":\"1.0.2\",\"id\":\"c\","
                + "\"status\":\"creating\",\"pid\":1,\"bundle\":\"" + bundle + "\"}");
        Path log = tmp.resolve("hook-classes.log");
        Cli.Result r = Cli.run(Stage.javaCommand("lib/composefs-java/libexec/composefs",
                List.of("-Xlog:class+load=info:file=" + log), List.of("oci-hook"), ""), state, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        List<String> loaded = Files.readAllLines(log);
        assertTrue(loaded.size() > 500, "the class log was written: " + loaded.size());
        List<String> stubs = loaded.stream().filter(l -> l.contains("DowncallStub")).toList();
        assertTrue(stubs.size() <= 1, "downcall shapes linked: " + stubs);
    }

    /**
     * An installation missing a jar of its class path (a partial copy, without the caches, which
     * would still serve the classes they hold) fails with one line naming
     * the class, as every other failure does, not with the JVM's stack trace: on the lean path
     * (mkcomposefs signing without Bouncy Castle's provider) and on picocli's (any composefs
     * subcommand without picocli).
     */
    @Test
    void aJarMissingFromTheClassPathIsOneLine() throws Exception {
        Infra.requireTool("openssl");
        String key = tmp.resolve("key.pem").toString();
        String cert = tmp.resolve("cert.pem").toString();
        assertEquals(0, Cli.run("/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", cert, "-subj", "/CN=launcher test", "-days", "1").exit());
        Path copy = tmp.resolve("copy");
        assertEquals(0, Cli.run("/bin/cp", "-a", Stage.dir().toString(), copy.toString()).exit());
        try (var jars = Files.list(copy.resolve("lib/composefs-java/lib"))) {
            for (Path jar : jars.filter(j -> j.getFileName().toString().matches("(bcprov|picocli).*\\.jar")).toList()) {
                Files.delete(jar);
            }
        }
        try (var caches = Files.list(copy.resolve("lib/composefs-java/cache"))) {
            for (Path cache : caches.toList()) {
                Files.delete(cache);
            }
        }
        Path src = source("src");
        Cli.Result sign = Cli.run(copy.resolve("bin/mkcomposefs").toString(), "--sign-key=" + key, "--sign-cert=" + cert,
                src.toString(), tmp.resolve("a.cfs").toString());
        assertEquals(1, sign.exit());
        List<String> said = sign.stderr().lines().toList();
        assertEquals(1, said.size(), sign.stderr());
        assertTrue(said.get(0).startsWith("mkcomposefs: internal error: java.lang.NoClassDefFoundError: org/bouncycastle/"),
                said.get(0));
        assertFalse(Files.exists(tmp.resolve("a.cfs")), "no image without its signature");
        Cli.Result fstab = Cli.run(copy.resolve("bin/composefs").toString(), "fstab-line", "--options=basedir=/srv/objects",
                "/srv/a.cfs", "/mnt/a");
        assertEquals(1, fstab.exit());
        assertEquals(List.of("composefs: internal error: java.lang.NoClassDefFoundError: picocli/CommandLine"),
                fstab.stderr().lines().toList());
        // COMPOSEFS_DEBUG=1 asks for the stack trace after the line
        Cli.Result debug = Cli.run(List.of(copy.resolve("bin/composefs").toString(), "fstab-line",
                "--options=basedir=/srv/objects", "/srv/a.cfs", "/mnt/a"), null, Map.of("COMPOSEFS_DEBUG", "1"));
        List<String> lines = debug.stderr().lines().toList();
        assertEquals("composefs: internal error: java.lang.NoClassDefFoundError: picocli/CommandLine", lines.get(0));
        assertTrue(lines.size() > 2 && lines.stream().anyMatch(l -> l.startsWith("\tat dev.composefs.cli.Main")),
                debug.stderr());
    }

    /**
     * A downcall stub is spun at its first use, with some 20 classes of method handles around it,
     * every run: a directory scan links exactly two, syscall(2) and libcrypto's SHA-256 (one
     * signature for its three calls). A libc wrapper linked for nothing on the way shows here.
     */
    @Test
    void aDirectoryScanLinksTwoDowncallShapes() throws Exception {
        assumeTrue(Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")),
                "needs x86-64 with libcrypto.so.3: elsewhere other calls go through their libc wrappers");
        Path src = source("src/dir");
        Files.createSymbolicLink(src.resolve("link"), Path.of("f"));
        Files.setAttribute(src, "user:k", "v".getBytes(StandardCharsets.UTF_8));
        Path log = tmp.resolve("classes.log");
        Cli.Result r = Cli.run(Stage.javaCommand("bin/mkcomposefs", List.of("-Xlog:class+load=info:file=" + log),
                List.of("--print-digest-only", tmp.resolve("src").toString()), ""), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        Cli.Result viaLauncher = Cli.run("mkcomposefs", "--print-digest-only", tmp.resolve("src").toString());
        assertEquals(viaLauncher.out(), r.out());
        List<String> stubs = Files.readAllLines(log).stream().filter(l -> l.contains("DowncallStub")).toList();
        assertEquals(2, stubs.size(), String.join("\n", stubs));
    }

    /**
     * The bundled runtime's method handle holder classes have the lambda forms of our downcalls
     * (packaging/src/main/runtime/lambda-forms, appended to its classlist before the caches are
     * trained): a form missing there is spun as a class at every start. Each command's usual
     * work with the JDK's resolution trace, which must name no form the holders lack. A change to
     * the bindings that brings new forms fails here with the lines to add.
     */
    @Test
    void everyLambdaFormOfACommandIsInTheHolderClasses() throws Exception {
        Path src = source("src/dir");
        Files.createSymbolicLink(src.resolve("link"), Path.of("f"));
        Files.setAttribute(src, "user:k", "v".getBytes(StandardCharsets.UTF_8));
        Path dump = Files.writeString(tmp.resolve("tree.dump"), DUMP);
        Path store = tmp.resolve("store");
        Path image = tmp.resolve("a.cfs");
        Path mnt = guard.mountpoint(tmp, "m");
        List<List<String>> runs = new ArrayList<>(List.of(
                List.of("bin/mkcomposefs", "--print-digest-only", src.toString()),
                List.of("bin/mkcomposefs", "--digest-store=" + store, src.toString(), image.toString()),
                List.of("bin/mkcomposefs", "--digest-store=" + store, src.toString(), image.toString()),
                List.of("bin/mkcomposefs", "--from-file", dump.toString(), tmp.resolve("b.cfs").toString()),
                List.of("bin/composefs-info", "ls", image.toString()),
                List.of("bin/composefs-info", "measure-file", src.resolve("f").toString()),
                List.of("bin/composefs", "store", "fsck", store.toString())));
        if (ROOT && MountGuard.mountable()) {
            runs.add(List.of("sbin/mount.composefs", image.toString(), mnt.toString(), "-o", "basedir=" + store));
        }
        Set<String> missing = new java.util.TreeSet<>();
        for (List<String> run : runs) {
            Cli.Result r = Cli.run(Stage.javaCommand(run.get(0), List.of("-Djava.lang.invoke.MethodHandle.TRACE_RESOLVE=true"),
                    run.subList(1, run.size()), "-Xint"), null, Map.of());
            assertEquals(0, r.exit(), run + ": " + r.stderr());
            if (run.get(0).endsWith("mount.composefs")) {
                assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
            }
            r.out().lines().filter(l -> l.startsWith("[LF_RESOLVE] ") && l.endsWith(" (fail)"))
                    .forEach(l -> missing.add("@lambda-form-invoker " + l.substring(0, l.length() - " (fail)".length())));
        }
        assertEquals(Set.of(), missing, "lines to add to packaging/src/main/runtime/lambda-forms");
    }

    /**
     * A plain mount copies its strings and paths into native memory without
     * MemorySegment.copy(array, ...), whose switch on the array's type spins a class at its first
     * use, every run (Native.copy).
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
        Cli.Result r = Cli.run(Stage.javaCommand("sbin/mount.composefs", List.of("-Xlog:class+load=info:file=" + log),
                List.of(image.toString(), mnt.toString(), "-o", "basedir=" + store), "-Xint"), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
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
}
