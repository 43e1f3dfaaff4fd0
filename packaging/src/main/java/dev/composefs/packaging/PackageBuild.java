package dev.composefs.packaging;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

/**
 * Lays out the installed tree (target/stage: bin, sbin, lib/composefs-java, share), trains its
 * caches, and writes it as composefs-java_VERSION_amd64.deb (under /usr) and as
 * composefs-java-VERSION-linux-x86_64.tar.gz (relocatable). Runs on the JDK the build selected:
 * its jlink makes the bundled runtime. See docs/packaging.md.
 */
public final class PackageBuild {
    /**
     * The modules the commands use (jdeps over the shipped jars: java.base, java.naming,
     * java.net.http, java.sql), charsets for a user's locale, JFR to profile a run, and
     * jdk.unsupported for zstd-jni and Bouncy Castle.
     */
    static final String MODULES = "java.base,java.naming,java.net.http,java.sql,jdk.charsets,jdk.jfr,jdk.unsupported";

    private final Map<String, String> opts;
    private final Path out;
    private final Path stage;
    private final Path lib;
    private final String version;
    private final long mtime;

    private PackageBuild(Map<String, String> opts) {
        this.opts = opts;
        this.out = Path.of(opt("out")).toAbsolutePath();
        this.stage = out.resolve("stage");
        this.lib = stage.resolve("lib/composefs-java");
        this.version = opt("version");
        this.mtime = timestamp(opts.getOrDefault("timestamp", ""));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (!a.startsWith("--") || eq < 0) {
                throw new IllegalArgumentException("expected --name=value: " + a);
            }
            opts.put(a.substring(2, eq), a.substring(eq + 1));
        }
        new PackageBuild(opts).build();
    }

    private String opt(String name) {
        String v = opts.get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("--" + name + "= is required");
        }
        return v;
    }

    /** project.build.outputTimestamp: ISO-8601 or seconds since the epoch. */
    private static long timestamp(String s) {
        if (s.isEmpty() || s.startsWith("$")) {
            return 1_767_225_600L; // 2026-01-01T00:00:00Z
        }
        return s.chars().allMatch(Character::isDigit) ? Long.parseLong(s) : Instant.parse(s).getEpochSecond();
    }

    private void build() throws Exception {
        int feature = Runtime.version().feature();
        if (feature < 22) {
            throw new IllegalStateException("the package needs a JDK >= 22 to build its runtime; this is " + feature);
        }
        if (!System.getProperty("os.arch").equals("amd64")) {
            throw new IllegalStateException("the package is built for amd64 (x86_64); this JDK is "
                    + System.getProperty("os.arch"));
        }
        deleteTree(stage);
        Files.createDirectories(lib.resolve("lib"));
        Path runtime = lib.resolve("runtime");
        jlink(runtime, feature);

        List<String> jars = copyJars();
        String zstd = extractZstd(jars);
        List<String> classPath = jars.stream().map(j -> lib.resolve("lib").resolve(j).toString()).toList();

        Map<String, byte[]> debLaunchers = new LinkedHashMap<>();
        for (Program p : Program.ALL) {
            String flag = Training.cacheFlag(feature);
            write(stage.resolve(p.path()), Launchers.script(p, null, jars, flag, version)
                    .replace(Launchers.ZSTD_PLACEHOLDER, zstd), true);
            debLaunchers.put(p.path(), Launchers.script(p, Launchers.INSTALLED_LIB, jars, flag, version)
                    .replace(Launchers.ZSTD_PLACEHOLDER, zstd).getBytes(StandardCharsets.UTF_8));
        }
        generateDocs();
        touchAll(stage);

        Path work = out.resolve("training");
        deleteTree(work);
        Files.createDirectories(work);
        Training training = new Training(runtime, classPath, lib.resolve("lib").resolve(zstd).toString(), feature, work);
        training.prepareInputs();
        Files.createDirectories(lib.resolve("cache"));
        if (!training.trainsOnRealMount()) {
            System.out.println("[package] mount.composefs's cache is trained on -f, not on a mount (that needs root, "
                    + "EROFS and overlayfs): the package's mounts start slower than one built as root");
        }
        for (Program p : Program.ALL) {
            for (String name : p.cacheNames()) {
                Path cache = lib.resolve("cache").resolve(name);
                training.train(p, cache);
                training.verify(p, cache);
            }
        }
        deleteTree(work);
        touchAll(stage);

        String top = "composefs-java-" + version + "-linux-x86_64";
        List<Archives.Entry> tar = new ArrayList<>();
        tar.add(new Archives.Entry(top, 0755, null, null));
        List<Archives.Entry> staged = Archives.tree(stage); // read once, for both archives
        tar.addAll(Archives.under(top + "/", staged, Map.of()));
        writeAtomically(out.resolve(top + ".tar.gz"), Archives.tarGz(tar, "", mtime));

        List<Archives.Entry> data = new ArrayList<>(Archives.parents("usr"));
        data.addAll(Archives.under("usr/", staged, debLaunchers));
        data.addAll(Archives.parents("usr/share/containers/oci/hooks.d"));
        data.add(new Archives.Entry("usr/share/containers/oci/hooks.d/composefs.json", 0644, hooksJson(runtime, classPath), null));
        data.addAll(Archives.parents("usr/share/doc/composefs-java"));
        data.add(new Archives.Entry("usr/share/doc/composefs-java/copyright", 0644, copyright(), null));
        data = dedupeDirectories(data);
        String debVersion = version.replace("-SNAPSHOT", "~SNAPSHOT");
        Archives.deb(out.resolve("composefs-java_" + debVersion + "_amd64.deb"), control(debVersion, data), data, mtime);
    }

    private void jlink(Path runtime, int feature) throws IOException {
        ToolProvider jlink = ToolProvider.findFirst("jlink")
                .orElseThrow(() -> new IllegalStateException("this JDK has no jlink: build with a full JDK"));
        List<String> args = new ArrayList<>(List.of("--add-modules", MODULES, "--strip-debug", "--no-header-files",
                "--no-man-pages", "--output", runtime.toString()));
        if (feature < 24) {
            args.add("--generate-cds-archive"); // the base a dynamic archive is layered on
        }
        StringWriter log = new StringWriter();
        int rc = jlink.run(new PrintWriter(log), new PrintWriter(log), args.toArray(String[]::new));
        if (rc != 0) {
            throw new IOException("jlink failed (" + rc + "): " + log);
        }
        // The lambda forms our downcalls use: the AOT cache's holder classes are generated from
        // this list, and a form missing from it is spun as a class at every run.
        List<String> forms = Files.readAllLines(Path.of(opt("lambda-forms"))).stream()
                .filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
        Files.write(runtime.resolve("lib/classlist"), forms, StandardOpenOption.APPEND);
    }

    /** The shipped jars into lib/, the main jar first; their names in class path order. */
    private List<String> copyJars() throws IOException {
        Path from = Path.of(opt("jars"));
        String main = opt("main-jar");
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(from)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jar")).sorted().forEach(names::add);
        }
        if (!names.remove(main)) {
            throw new IOException(from + " has no " + main);
        }
        names.addFirst(main);
        // Signed jars (BouncyCastle's) last: a class the AOT cache lacks is looked for in the
        // jars in order, each opened on the way, and opening a signed jar reads and checks its
        // signature files; only signature code needs theirs.
        List<String> signed = new ArrayList<>();
        for (String n : names) {
            try (ZipFile z = new ZipFile(from.resolve(n).toFile())) {
                if (z.stream().anyMatch(e -> e.getName().startsWith("META-INF/") && e.getName().endsWith(".SF"))) {
                    signed.add(n);
                }
            }
        }
        names.removeAll(signed);
        names.addAll(signed);
        for (String n : names) {
            Files.copy(from.resolve(n), lib.resolve("lib").resolve(n), StandardCopyOption.REPLACE_EXISTING);
        }
        return names;
    }

    /**
     * zstd-jni's library for this platform, beside the jars: loaded from there (ZstdNativePath)
     * instead of being copied out of the jar into java.io.tmpdir at every run.
     */
    private String extractZstd(List<String> jars) throws IOException {
        String jar = jars.stream().filter(j -> j.startsWith("zstd-jni-")).findFirst()
                .orElseThrow(() -> new IOException("no zstd-jni jar among " + jars));
        try (ZipFile z = new ZipFile(lib.resolve("lib").resolve(jar).toFile())) {
            var entry = z.stream().filter(e -> e.getName().startsWith("linux/amd64/") && e.getName().endsWith(".so"))
                    .findFirst().orElseThrow(() -> new IOException(jar + " has no linux/amd64 library"));
            String name = entry.getName().substring("linux/amd64/".length());
            try (InputStream in = z.getInputStream(entry)) {
                Files.copy(in, lib.resolve("lib").resolve(name));
            }
            Files.setPosixFilePermissions(lib.resolve("lib").resolve(name), PosixFilePermissions.fromString("rwxr-xr-x"));
            return name;
        }
    }

    /** Man pages (gzipped) and bash completions, written by the commands from the models their --help uses. */
    private void generateDocs() throws IOException, InterruptedException {
        Path man = out.resolve("man");
        deleteTree(man);
        command(stage.resolve("bin/composefs").toString(), "generate-man-pages", man.toString());
        try (Stream<Path> pages = Files.list(man)) {
            for (Path page : pages.sorted().toList()) {
                String name = page.getFileName().toString();
                String section = name.substring(name.lastIndexOf('.') + 1);
                write(stage.resolve("share/man/man" + section).resolve(name + ".gz"), Archives.gzip(Files.readAllBytes(page)));
            }
        }
        deleteTree(man);
        command(stage.resolve("bin/composefs").toString(), "generate-completions",
                stage.resolve("share/bash-completion/completions").toString());
    }

    /** The hooks.d entry, as `composefs oci-hook --print-hooks-json` prints it for the installed hook. */
    private byte[] hooksJson(Path runtime, List<String> classPath) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(runtime.resolve("bin/java").toString(), "-cp", String.join(":", classPath),
                "dev.composefs.cli.Main", "composefs", "oci-hook", "--print-hooks-json");
        pb.environment().put("COMPOSEFS_SELF", Launchers.INSTALLED_LIB + "/libexec/composefs");
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        byte[] json = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException("composefs oci-hook --print-hooks-json failed");
        }
        return json;
    }

    private byte[] copyright() throws IOException {
        String text = """
                Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
                Upstream-Name: composefs-java

                Files: *
                Copyright: composefs-java developers
                License: Apache-2.0

                Files: usr/lib/composefs-java/runtime/*
                Copyright: Oracle and/or its affiliates, and the OpenJDK contributors
                License: GPL-2.0 with Classpath exception
                 See usr/lib/composefs-java/runtime/legal/.

                Files: usr/lib/composefs-java/lib/*
                License: see each library: picocli, jackson-jr and zstd-jni (Apache-2.0 / BSD-2-Clause),
                 Bouncy Castle (MIT)

                License: Apache-2.0
                """;
        return (text + " " + Files.readString(Path.of(opt("license"))).replace("\n\n", "\n.\n").replace("\n", "\n ").strip()
                + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private String control(String debVersion, List<Archives.Entry> data) {
        return """
                Package: composefs-java
                Version: VERSION
                Architecture: amd64
                Maintainer: composefs-java developers <composefs-java@localhost>
                Installed-Size: SIZE
                Depends: libc6 (>= 2.31), util-linux
                Recommends: libssl3t64 | libssl3, fuse3
                Suggests: fsverity, runc | crun
                Conflicts: composefs
                Replaces: composefs
                Provides: composefs
                Section: admin
                Priority: optional
                Description: composefs image tools and mount helper, in Java
                 Builds, verifies and mounts composefs images: a small EROFS metadata image
                 whose files point into a content-addressed object store, mounted with
                 overlayfs (and fs-verity where the filesystem has it), or through FUSE.
                 Provides mkcomposefs, composefs-info, composefs-dump, composefs-fuse and
                 mount.composefs with upstream's options
                 and image format, plus the composefs command (object stores, signatures,
                 systemd units, an OCI runtime hook, container image import). Carries its own
                 Java runtime.
                """.replace("VERSION", debVersion).replace("SIZE", Long.toString(Archives.installedKiB(data)));
    }

    /** parents() of several prefixes name some directories twice: the first stays. */
    private static List<Archives.Entry> dedupeDirectories(List<Archives.Entry> data) {
        Map<String, Archives.Entry> seen = new LinkedHashMap<>();
        for (Archives.Entry e : data) {
            seen.putIfAbsent(e.path(), e);
        }
        return new ArrayList<>(seen.values());
    }

    private static void command(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed:\n" + output);
        }
    }

    private static void write(Path file, String text, boolean executable) throws IOException {
        write(file, text.getBytes(StandardCharsets.UTF_8));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
    }

    private static void write(Path file, byte[] content) throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, content);
    }

    private static void writeAtomically(Path file, byte[] content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, content);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Every file and directory of the tree gets the package's one modification time. */
    private void touchAll(Path root) throws IOException {
        FileTime t = FileTime.from(Instant.ofEpochSecond(mtime));
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> !Files.isSymbolicLink(p)).toList()) {
                Files.setLastModifiedTime(p, t);
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
