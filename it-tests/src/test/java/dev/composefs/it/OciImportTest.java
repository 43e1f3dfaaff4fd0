package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * composefs oci import and pull against the real tools: test images built by umoci (plus one
 * layer written by GNU tar with whiteouts before and after this layer's own entries and an
 * opaque marker at the end, see it-tests/oci/build-layout.sh), copied by skopeo into a docker
 * archive, a zstd layout and Debian's docker-registry. The reference tree is what
 * {@code umoci unpack} makes of the same layout, as {@code mkcomposefs --hardlinks} sees it.
 */
class OciImportTest {
    @TempDir
    static Path tmp;
    static Path layout;
    static Registry registry;
    static final Map<String, String> REFERENCE = new HashMap<>();

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void build() throws Exception {
        assumeTools();
        layout = tmp.resolve("layout");
        Cli.Result r = Cli.run(List.of("/bin/bash", Cli.repo().resolve("it-tests/oci/build-layout.sh").toString(),
                layout.toString()), null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        registry = Registry.start(tmp.resolve("registry"), null);
        registry.push(layout, "base", "test/base:1");
        registry.push(layout, "app", "test/app:1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    /** Root, and the tools bin/test installs; skips with the reason otherwise. */
    static void assumeTools() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")),
                "the test images carry devices, owners and trusted.* xattrs: building them needs root");
        for (String tool : List.of("umoci", "skopeo", "docker-registry", "setfattr", "tar", "fsverity")) {
            Infra.requireTool(tool);
        }
    }

    static Cli.Result oci(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("composefs", "oci"));
        cmd.addAll(List.of(args));
        return Cli.run(cmd, null, Map.of());
    }

    /** stderr without the fs-verity warning this host's stores give. */
    static List<String> errors(Cli.Result r) {
        return r.stderr().lines().filter(l -> !l.contains(": warning: ")).toList();
    }

    /** composefs-info dump of an image, root entry aside (umoci's rootfs directory is not the image's root). */
    static String dump(Path image) throws Exception {
        Cli.Result r = Cli.run("composefs-info", "dump", image.toString());
        assertEquals(0, r.exit(), r.stderr());
        String out = r.out();
        assertTrue(out.startsWith("/ "), out);
        return out.substring(out.indexOf('\n') + 1);
    }

    /** What umoci unpack makes of layout:tag, as mkcomposefs --hardlinks dumps it. */
    static synchronized String reference(Path layout, String tag) throws Exception {
        String key = layout + ":" + tag;
        if (!REFERENCE.containsKey(key)) {
            REFERENCE.put(key, dumpOfTree(unpack(tmp.resolve("umoci-" + REFERENCE.size()), layout, tag), tmp));
        }
        return REFERENCE.get(key);
    }

    /** umoci unpack of layout:tag into bundle; its rootfs. */
    static Path unpack(Path bundle, Path layout, String tag) throws Exception {
        Cli.Result u = Cli.run("/usr/bin/umoci", "unpack", "--image", layout + ":" + tag, bundle.toString());
        assertEquals(0, u.exit(), u.stderr());
        return bundle.resolve("rootfs");
    }

    /** The dump of mkcomposefs --hardlinks of a directory (image and store under work), root aside. */
    static String dumpOfTree(Path rootfs, Path work) throws Exception {
        Path image = Files.createTempFile(work, "reference", ".cfs");
        Cli.Result m = Cli.run("mkcomposefs", "--hardlinks", "--digest-store=" + work.resolve("reference-store"),
                rootfs.toString(), image.toString());
        assertEquals(0, m.exit(), m.stderr());
        return dump(image);
    }

    static String imported(Cli.Result r) {
        assertEquals(0, r.exit(), r.stderr());
        return r.out().strip();
    }

    @Test
    void aLayoutImportsAsTheTreeUmociUnpacks() throws Exception {
        for (String tag : List.of("base", "app")) {
            Path image = tmp.resolve("layout-" + tag + ".cfs");
            Cli.Result r = oci("import", "--store=" + tmp.resolve("store"), "oci:" + layout + ":" + tag, image.toString());
            assertEquals(0, r.exit(), r.stderr());
            assertEquals(reference(layout, tag), dump(image), tag);
        }
        String d = dump(tmp.resolve("layout-app.cfs"));
        // the crafted layer did what the OCI spec says, not what its tar order suggests
        assertTrue(d.contains("/etc/fifo 29 100644 "), "a file of a layer survives that layer's whiteout of its name");
        assertTrue(d.contains("/del/keep 30 100644 "), "whatever the whiteout's position in the tar");
        assertTrue(d.contains("/opq/new ") && !d.contains("/opq/lower") && !d.contains("/opq/sub"),
                "an opaque directory hides the lower layers' entries, not its own layer's");
        assertFalse(d.contains("/etc/dangling"), "a plain whiteout removes the lower entry");
        assertTrue(d.contains("/usr/bin/big-link3 300000 @104711 4 "), "a hardlink to a lower layer's file");
        assertTrue(d.contains("/usr/lib/from-layer3 ") && d.contains("/usr/lib/via-chain ") && !d.contains("/usr/lib/doomed")
                && d.contains("/lib 7 120777 "),
                "members and whiteouts below a lower layer's symlinks land where they point");
        assertTrue(d.matches("(?s).*\n/relink/x 69 100644 1 .*\n/relink/y 68 100644 1 .*"),
                "a link keeps the inode it was made to when its layer replaces the name later");
        assertTrue(d.contains("trusted.bin=\\x80\\xff\\x00\\xfe"), "binary xattr values byte for byte");
        assertTrue(d.contains("/name-\\xff\\xe9 "), "names that are not UTF-8");
    }

    /**
     * The package loads zstd-jni's library from its own lib directory (ZstdNativePath): a zstd
     * import writes nothing to java.io.tmpdir, which may be mounted noexec. Run without that
     * setting, zstd-jni copies the library into java.io.tmpdir, and beside its jar where that
     * fails; where neither works the import fails with one line naming both.
     */
    @Test
    void zstdLayersImportWhereTheTemporaryDirectoryIsNoexec() throws Exception {
        MountGuard.assumeMountable();
        Path zstd = tmp.resolve("layout-zstd-noexec");
        Cli.Result s = Cli.run("/usr/bin/skopeo", "copy", "--quiet", "--dest-compress", "--dest-compress-format", "zstd",
                "oci:" + layout + ":app", "oci:" + zstd + ":app");
        assertEquals(0, s.exit(), s.stderr());
        Path store = tmp.resolve("store-noexec");
        List<String> args = List.of("oci", "import", "--print-digest", "--store=" + store, "oci:" + zstd + ":app",
                tmp.resolve("zstd-noexec.cfs").toString());
        List<String> importZstd = new java.util.ArrayList<>(List.of("composefs"));
        importZstd.addAll(args);
        String expected = imported(Cli.run(importZstd, null, Map.of()));
        Path noexec = guard.mountpoint(tmp, "noexec-tmp");
        assertEquals(0, Cli.run("/bin/mount", "-t", "tmpfs", "-o", "noexec", "tmpfs", noexec.toString()).exit());
        try {
            Map<String, String> env = Map.of("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + noexec);
            Cli.Result packaged = Cli.run(importZstd, null, env);
            assertEquals(expected, imported(packaged));
            try (Stream<Path> left = Files.list(noexec)) {
                assertEquals(List.of(), left.toList(), "nothing written to java.io.tmpdir");
            }
            // without the package's setting: zstd-jni's own copies, and the line where both fail
            List<String> plain = Stage.javaCommand("bin/composefs", List.of("-Djava.io.tmpdir=" + noexec), args, "")
                    .stream().filter(a -> !a.startsWith("-DZstdNativePath=")).toList();
            Path lib = guard.mountedOver(Stage.lib().resolve("lib")); // zstd-jni's jar is there
            assertEquals(0, Cli.run("/bin/mount", "--bind", "-o", "ro", lib.toString(), lib.toString()).exit());
            Cli.Result refused;
            try {
                refused = Cli.run(plain, null, Map.of());
            } finally {
                assertEquals(0, Cli.run("/bin/umount", lib.toString()).exit());
            }
            assertEquals(1, refused.exit(), refused.stderr());
            List<String> said = refused.stderr().lines().toList();
            assertEquals(1, said.size(), refused.stderr());
            assertTrue(said.get(0).startsWith("composefs oci import: layer sha256:") && said.get(0).contains(
                    ": cannot load zstd-jni's native library from " + noexec + " (java.io.tmpdir; mounted noexec?): "),
                    said.get(0));
            assertTrue(said.get(0).contains("; nor from " + lib + ": "), said.get(0));
            assertEquals(expected, imported(Cli.run(plain, null, Map.of())));
        } finally {
            assertEquals(0, Cli.run("/bin/umount", noexec.toString()).exit());
        }
    }

    @Test
    void layoutArchiveZstdAndRegistryGiveTheSameImage() throws Exception {
        Path store = tmp.resolve("store-same");
        String fromLayout = imported(oci("import", "--print-digest", "--store=" + store, "oci:" + layout + ":app",
                tmp.resolve("same-layout.cfs").toString()));
        Path archive = tmp.resolve("app.tar");
        Cli.Result s = Cli.run("/usr/bin/skopeo", "copy", "--quiet", "oci:" + layout + ":app",
                "docker-archive:" + archive + ":test/app:1");
        assertEquals(0, s.exit(), s.stderr());
        Path zstd = tmp.resolve("layout-zstd");
        s = Cli.run("/usr/bin/skopeo", "copy", "--quiet", "--dest-compress", "--dest-compress-format", "zstd",
                "oci:" + layout + ":app", "oci:" + zstd + ":app");
        assertEquals(0, s.exit(), s.stderr());
        assertTrue(Files.readString(firstManifest(zstd)).contains("tar+zstd"), "skopeo wrote zstd layers");

        assertEquals(fromLayout, imported(oci("import", "--print-digest", "--store=" + store,
                "docker-archive:" + archive, tmp.resolve("same-archive.cfs").toString())));
        assertEquals(fromLayout, imported(oci("import", "--print-digest", "--store=" + store,
                "docker-archive:" + archive + ":test/app:1", tmp.resolve("same-archive2.cfs").toString())));
        assertEquals(fromLayout, imported(oci("import", "--print-digest", "--store=" + store, "oci:" + zstd + ":app",
                tmp.resolve("same-zstd.cfs").toString())));
        Path pulled = tmp.resolve("same-registry.cfs");
        for (int i = 0; i < 2; i++) {
            assertEquals(fromLayout, imported(oci("pull", "--insecure", "--print-digest", "--store=" + tmp.resolve("store-pull-" + i),
                    registry.host() + "/test/app:1", pulled.toString())), "pull " + i);
        }
        String manifest = Files.readString(layout.resolve("index.json")).replaceAll("(?s).*\"digest\":\"(sha256:[0-9a-f]+)\"[^}]*\"app\".*", "$1");
        assertEquals(fromLayout, imported(oci("pull", "--insecure", "--print-digest", "--store=" + store,
                registry.host() + "/test/app@" + manifest, tmp.resolve("by-digest.cfs").toString())), "by digest");
        assertEquals(reference(layout, "app"), dump(pulled));
        // the digest is mkcomposefs' over the same tree: nothing of the source shapes the image
        Cli.Result fromDump = Cli.run(List.of("mkcomposefs", "--print-digest-only", "--from-file", "-"),
                writeDump(pulled), Map.of());
        assertEquals(fromLayout, fromDump.out().strip(), fromDump.stderr());
    }

    private static Path writeDump(Path image) throws Exception {
        Cli.Result r = Cli.run("composefs-info", "dump", image.toString());
        Path p = Files.createTempFile(tmp, "dump", ".txt");
        Files.write(p, r.stdout());
        return p;
    }

    private static Path firstManifest(Path layout) throws Exception {
        String index = Files.readString(layout.resolve("index.json"));
        String hex = index.replaceAll("(?s).*?\"digest\":\"sha256:([0-9a-f]{64})\".*", "$1");
        return layout.resolve("blobs/sha256").resolve(hex);
    }

    @Test
    void mkcomposefsTreeOptionsGiveMkcomposefsImages() throws Exception {
        // with --use-epoch the root entry is the same too (0755 root:root), so whole images compare
        Path rootfs = unpack(tmp.resolve("umoci-options"), layout, "app");
        for (List<String> options : List.of(List.of("--use-epoch"),
                List.of("--use-epoch", "--user-xattrs", "--max-version=0"),
                List.of("--use-epoch", "--skip-xattrs", "--min-version=1", "--max-version=1"))) {
            List<String> mk = new ArrayList<>(List.of("mkcomposefs", "--hardlinks", "--print-digest"));
            mk.addAll(options);
            mk.addAll(List.of("--digest-store=" + tmp.resolve("store-options-ref"), rootfs.toString(),
                    tmp.resolve("options-ref.cfs").toString()));
            String expected = imported(Cli.run(mk, null, Map.of()));
            List<String> args = new ArrayList<>(List.of("import", "--print-digest", "--store=" + tmp.resolve("store-options")));
            args.addAll(options);
            args.addAll(List.of("oci:" + layout + ":app", tmp.resolve("options.cfs").toString()));
            assertEquals(expected, imported(oci(args.toArray(String[]::new))), options.toString());
        }
    }

    @Test
    void aMultiPlatformIndexIsResolvedForThePlatform() throws Exception {
        Path multi = tmp.resolve("layout-multi");
        assertEquals(0, Cli.run("/bin/cp", "-a", layout.toString(), multi.toString()).exit());
        // an index naming base for another platform and app for this one, added as tag "multi"
        Map<String, Object> index = com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(Files.readString(multi.resolve("index.json")));
        List<Map<String, Object>> entries = new ArrayList<>();
        String here = dev.composefs.core.oci.Platform.current().architecture();
        String other = here.equals("s390x") ? "ppc64le" : "s390x";
        for (Object o : (List<?>) index.get("manifests")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = new java.util.LinkedHashMap<>((Map<String, Object>) o);
            boolean isApp = "app".equals(((Map<?, ?>) m.remove("annotations")).get("org.opencontainers.image.ref.name"));
            m.put("platform", Map.of("os", "linux", "architecture", isApp ? here : other));
            entries.add(m);
        }
        byte[] blob = com.fasterxml.jackson.jr.ob.JSON.std.asBytes(Map.of("schemaVersion", 2,
                "mediaType", "application/vnd.oci.image.index.v1+json", "manifests", entries));
        Path blobFile = Files.write(tmp.resolve("index-blob"), blob);
        String hex = Cli.run("/usr/bin/sha256sum", blobFile.toString()).out().substring(0, 64);
        Files.copy(blobFile, multi.resolve("blobs/sha256").resolve(hex));
        @SuppressWarnings("unchecked")
        List<Object> top = (List<Object>) index.get("manifests");
        top.add(Map.of("mediaType", "application/vnd.oci.image.index.v1+json", "digest", "sha256:" + hex,
                "size", blob.length, "annotations", Map.of("org.opencontainers.image.ref.name", "multi")));
        Files.writeString(multi.resolve("index.json"), com.fasterxml.jackson.jr.ob.JSON.std.asString(index));

        Path store = tmp.resolve("store-multi");
        String app = imported(oci("import", "--print-digest", "--store=" + store, "oci:" + layout + ":app",
                tmp.resolve("multi-app.cfs").toString()));
        String base = imported(oci("import", "--print-digest", "--store=" + store, "oci:" + layout + ":base",
                tmp.resolve("multi-base.cfs").toString()));
        assertEquals(app, imported(oci("import", "--print-digest", "--store=" + store, "oci:" + multi + ":multi",
                tmp.resolve("multi.cfs").toString())), "this machine's platform");
        assertEquals(base, imported(oci("import", "--print-digest", "--platform=linux/" + other, "--store=" + store,
                "oci:" + multi + ":multi", tmp.resolve("multi.cfs").toString())));
        Cli.Result none = oci("import", "--platform=linux/mips64le", "--store=" + store, "oci:" + multi + ":multi",
                tmp.resolve("multi.cfs").toString());
        assertEquals(1, none.exit());
        assertTrue(errors(none).get(0).contains("no image for linux/mips64le (the index offers [linux/"), none.stderr());

        Cli.Result s = Cli.run("/usr/bin/skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                "oci:" + multi + ":multi", "docker://" + registry.host() + "/test/multi:1");
        assertEquals(0, s.exit(), s.stderr());
        assertEquals(app, imported(oci("pull", "--insecure", "--print-digest", "--store=" + store,
                registry.host() + "/test/multi:1", tmp.resolve("multi.cfs").toString())), "pulled: this platform");
        assertEquals(base, imported(oci("pull", "--insecure", "--print-digest", "--platform=linux/" + other,
                "--store=" + store, registry.host() + "/test/multi:1", tmp.resolve("multi.cfs").toString())));
    }

    @Test
    void aCorruptedBlobIsRefusedNamingIt() throws Exception {
        Path copy = tmp.resolve("layout-corrupt");
        assertEquals(0, Cli.run("/bin/cp", "-a", layout.toString(), copy.toString()).exit());
        Path largest;
        try (Stream<Path> s = Files.list(copy.resolve("blobs/sha256"))) {
            largest = s.max((a, b) -> Long.compare(a.toFile().length(), b.toFile().length())).orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(largest.toFile(), "rw")) {
            long at = f.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
        Path image = tmp.resolve("corrupt.cfs");
        Cli.Result r = oci("import", "--store=" + tmp.resolve("store-corrupt"), "oci:" + copy + ":app", image.toString());
        assertEquals(1, r.exit());
        List<String> err = errors(r);
        assertEquals(1, err.size(), r.stderr());
        assertTrue(err.get(0).contains("sha256:" + largest.getFileName()), "names the blob: " + err.get(0));
        assertFalse(Files.exists(image), "no image from a corrupted blob");
        assertNoTemporaryFiles(tmp.resolve("store-corrupt"));

        // the config too: a changed byte is refused before anything is read from it
        Path copy2 = tmp.resolve("layout-corrupt-config");
        assertEquals(0, Cli.run("/bin/cp", "-a", layout.toString(), copy2.toString()).exit());
        String manifest = Files.readString(firstManifest(copy2));
        String config = manifest.replaceAll("(?s).*\"config\":\\{[^}]*\"digest\":\"sha256:([0-9a-f]{64})\".*", "$1");
        Path configFile = copy2.resolve("blobs/sha256").resolve(config);
        Files.writeString(configFile, Files.readString(configFile).replace("\"os\":\"linux\"", "\"os\":\"linuX\""));
        r = oci("import", "--store=" + tmp.resolve("store-corrupt"), "oci:" + copy2 + ":base", image.toString());
        assertEquals(1, r.exit());
        assertTrue(errors(r).get(0).contains("config sha256:" + config) && errors(r).get(0).contains("does not match"),
                r.stderr());
    }

    @Test
    void aRegistryThatDisconnectsMidBlobLeavesNothingHalfWrittenAndARerunCompletes() throws Exception {
        Path store = tmp.resolve("store-cut");
        Path image = tmp.resolve("cut.cfs");
        try (CuttingProxy proxy = new CuttingProxy(registry.port, 1 << 20)) {
            Cli.Result r = oci("pull", "--insecure", "--store=" + store, proxy.host() + "/test/app:1", image.toString());
            assertEquals(1, r.exit(), r.stderr());
            assertTrue(proxy.cuts.get() > 0, "the proxy cut a blob");
            List<String> err = errors(r);
            assertEquals(1, err.size(), r.stderr());
            assertTrue(err.get(0).contains("connection lost") && err.get(0).contains("layer sha256:"), err.get(0));
        }
        assertFalse(Files.exists(image));
        assertNoTemporaryFiles(store);
        assertObjectsMatchTheirNames(store);
        Cli.Result again = oci("pull", "--insecure", "--print-digest", "--store=" + store, registry.host() + "/test/app:1",
                image.toString());
        String direct = imported(oci("import", "--print-digest", "--store=" + tmp.resolve("store-cut-ref"),
                "oci:" + layout + ":app", tmp.resolve("cut-ref.cfs").toString()));
        assertEquals(direct, imported(again));
        assertObjectsMatchTheirNames(store);
    }

    @Test
    void aPullKilledMidwayLeavesOnlyWholeObjectsAndARerunCompletes() throws Exception {
        Path store = tmp.resolve("store-killed");
        Path image = tmp.resolve("killed.cfs");
        try (CuttingProxy slow = new CuttingProxy(registry.port, Long.MAX_VALUE, 2 << 20)) {
            Process p = new ProcessBuilder(Cli.repo().resolve("bin/composefs").toString(), "oci", "pull", "--insecure",
                    "--store=" + store, slow.host() + "/test/app:1", image.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            for (int i = 0; i < 600 && slow.passed.get() < (3 << 20) && p.isAlive(); i++) {
                Thread.sleep(50);
            }
            assertTrue(p.isAlive(), "still pulling when killed");
            p.destroyForcibly(); // SIGKILL: no handler of ours runs
            p.waitFor();
        }
        assertFalse(Files.exists(image));
        assertNoTemporaryFiles(store);
        if (!objects(store).isEmpty()) {
            assertObjectsMatchTheirNames(store);
        }
        String direct = imported(oci("import", "--print-digest", "--store=" + tmp.resolve("store-killed-ref"),
                "oci:" + layout + ":app", tmp.resolve("killed-ref.cfs").toString()));
        assertEquals(direct, imported(oci("pull", "--insecure", "--print-digest", "--store=" + store,
                registry.host() + "/test/app:1", image.toString())));
        assertObjectsMatchTheirNames(store);
    }

    /**
     * A registry front that answers manifests itself (relayed from the registry) and redirects
     * every blob to the registry (307 to another host:port), as registries backed by object
     * storage do: the blobs are fetched from where the redirect points.
     */
    @Test
    void blobsBehindARedirectAreFetchedFromWhereItPoints() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.util.concurrent.atomic.AtomicInteger redirects = new java.util.concurrent.atomic.AtomicInteger();
        com.sun.net.httpserver.HttpServer front = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        front.createContext("/v2/", ex -> {
            String path = ex.getRequestURI().getRawPath();
            String upstream = "http://" + registry.host() + path;
            if (path.contains("/blobs/")) {
                redirects.incrementAndGet();
                ex.getResponseHeaders().add("Location", upstream);
                ex.sendResponseHeaders(307, -1);
                ex.close();
                return;
            }
            try {
                var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(upstream));
                String accept = ex.getRequestHeaders().getFirst("Accept");
                if (accept != null) {
                    req.header("Accept", accept);
                }
                var resp = http.send(req.build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
                resp.headers().firstValue("Content-Type").ifPresent(t -> ex.getResponseHeaders().add("Content-Type", t));
                ex.sendResponseHeaders(resp.statusCode(), resp.body().length == 0 ? -1 : resp.body().length);
                ex.getResponseBody().write(resp.body());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        front.start();
        try {
            String direct = imported(oci("import", "--print-digest", "--store=" + tmp.resolve("store-redirect"),
                    "oci:" + layout + ":app", tmp.resolve("redirect-ref.cfs").toString()));
            String host = "127.0.0.1:" + front.getAddress().getPort();
            assertEquals(direct, imported(oci("pull", "--insecure", "--print-digest", "--store=" + tmp.resolve("store-redirect-2"),
                    host + "/test/app:1", tmp.resolve("redirect.cfs").toString())));
            assertTrue(redirects.get() >= 5, "config and layers came through redirects: " + redirects.get());
        } finally {
            front.stop(0);
        }
    }

    @Test
    void twoImagesSharingLayersStoreEachFileOnce() throws Exception {
        Path store = tmp.resolve("store-shared");
        Cli.Result base = oci("pull", "--insecure", "--store=" + store, registry.host() + "/test/base:1",
                tmp.resolve("shared-base.cfs").toString());
        assertEquals(0, base.exit(), base.stderr());
        Set<String> afterBase = objects(store);
        Cli.Result app = oci("pull", "--insecure", "--store=" + store, registry.host() + "/test/app:1",
                tmp.resolve("shared-app.cfs").toString());
        assertEquals(0, app.exit(), app.stderr());
        // app adds one new file (app/server); app/bundled.so is base's large.so again
        assertTrue(app.stderr().contains("; 1 new objects ("), app.stderr());
        assertTrue(app.stderr().matches("(?s).*, [1-9][0-9]* already in the store \\([0-9.]+ [KM]iB shared\\).*"), app.stderr());
        Set<String> all = objects(store);
        assertEquals(afterBase.size() + 1, all.size());
        Set<String> payloads = new TreeSet<>();
        for (String image : List.of("shared-base.cfs", "shared-app.cfs")) {
            Cli.Result o = Cli.run("composefs-info", "objects", tmp.resolve(image).toString());
            payloads.addAll(o.out().lines().toList());
        }
        assertTrue(all.containsAll(payloads), "every object the images name is stored");
        // files that upper layers delete or replace were stored as their layer streamed past;
        // store gc with both images removes exactly those
        Cli.Result gc = Cli.run("composefs", "store", "gc", store.toString(), tmp.resolve("shared-base.cfs").toString(),
                tmp.resolve("shared-app.cfs").toString());
        assertEquals(0, gc.exit(), gc.stderr());
        assertEquals(payloads, objects(store), "the store holds exactly the objects the two images name, each once");
        assertObjectsMatchTheirNames(store);
    }

    @Test
    void thePulledImageMountsAsUmociUnpacksIt() throws Exception {
        MountGuard.assumeMountable();
        Path store = tmp.resolve("store-mount");
        Path image = tmp.resolve("mount.cfs");
        assertEquals(0, oci("pull", "--insecure", "--store=" + store, registry.host() + "/test/app:1", image.toString()).exit());
        Path rootfs = unpack(tmp.resolve("umoci-mount"), layout, "app");
        Path mnt = guard.mountpoint(tmp, "oci");
        Cli.Result m = Cli.run("mount.composefs", "-o", "basedir=" + store, image.toString(), mnt.toString());
        assertEquals(0, m.exit(), m.stderr());
        try {
            List<Path> files;
            try (Stream<Path> s = Files.walk(rootfs)) {
                files = s.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList();
            }
            assertTrue(files.size() > 15);
            for (Path f : files) {
                Path in = mnt.resolve(rootfs.relativize(f)); // Path to Path: names that are not UTF-8 stay bytes
                assertEquals(-1L, Files.mismatch(f, in), "content of " + in);
            }
        } finally {
            assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
        }
    }

    @Test
    void badSourcesGetOneLine() throws Exception {
        Path store = tmp.resolve("store-bad");
        Map<List<String>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("import", "--store=" + store, "dir:" + layout, "x.cfs"), "unknown source");
        cases.put(List.of("import", "--store=" + store, "oci:" + tmp.resolve("nope"), "x.cfs"), "not an OCI image layout");
        cases.put(List.of("import", "--store=" + store, "oci:" + layout + ":nope", "x.cfs"), "no image tagged nope (tags: base, app)");
        cases.put(List.of("import", "--store=" + store, "oci:" + layout, "x.cfs"), "several images; name one by tag");
        cases.put(List.of("import", "--store=" + store, "docker-archive:" + tmp.resolve("nope.tar"), "x.cfs"), "no such file");
        cases.put(List.of("import", "--store=" + store, "docker-archive:" + layout.resolve("index.json"), "x.cfs"), "tar");
        cases.put(List.of("pull", "--insecure", "--store=" + store, registry.host() + "/test/nope:1", "x.cfs"), "not found");
        cases.put(List.of("pull", "--store=" + store, registry.host() + "/test/app:1", "x.cfs"), "needs --insecure");
        cases.put(List.of("pull", "--insecure", "--store=" + store, "127.0.0.1:" + Registry.freePort() + "/test/app:1", "x.cfs"),
                "cannot connect");
        cases.put(List.of("pull", "--insecure", "--store=" + store, registry.host() + "/Test/App", "x.cfs"), "not a valid repository");
        cases.put(List.of("pull", "--insecure", "--platform=linux/s390x", "--store=" + store, registry.host() + "/test/app:1", "x.cfs"),
                "");
        for (var c : cases.entrySet()) {
            List<String> args = new ArrayList<>(c.getKey());
            args.set(args.size() - 1, tmp.resolve("bad.cfs").toString());
            Cli.Result r = oci(args.toArray(String[]::new));
            if (c.getValue().isEmpty()) {
                // a single-platform image is a manifest, not an index: --platform has nothing to choose from
                assertEquals(0, r.exit(), r.stderr());
                continue;
            }
            assertEquals(1, r.exit(), c.getKey() + ": " + r.stderr());
            assertFalse(Files.exists(tmp.resolve("bad.cfs")), "no image");
            List<String> err = errors(r);
            assertEquals(1, err.size(), c.getKey() + ": " + r.stderr());
            assertTrue(err.get(0).contains(c.getValue()), c.getKey() + ": " + err.get(0));
            assertFalse(r.stderr().contains("\tat "), "no stack trace");
        }
        Files.deleteIfExists(tmp.resolve("bad.cfs")); // written by the --platform case only
    }

    /** XX/<62 hex> paths of the store's objects. */
    static Set<String> objects(Path store) throws Exception {
        try (Stream<Path> s = Files.walk(store)) {
            return s.filter(Files::isRegularFile).map(p -> store.relativize(p).toString())
                    .filter(p -> p.matches("[0-9a-f]{2}/[0-9a-f]{62}")).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    static void assertNoTemporaryFiles(Path store) throws Exception {
        if (!Files.exists(store)) {
            return;
        }
        try (Stream<Path> s = Files.walk(store)) {
            List<Path> left = s.filter(Files::isRegularFile)
                    .filter(p -> !store.relativize(p).toString().matches("[0-9a-f]{2}/[0-9a-f]{62}")).toList();
            assertEquals(List.of(), left, "only complete objects in the store");
        }
    }

    /** Every object's name is its fs-verity digest, as Debian's fsverity computes it. */
    static void assertObjectsMatchTheirNames(Path store) throws Exception {
        List<String> objs = new ArrayList<>(objects(store));
        assertFalse(objs.isEmpty());
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/fsverity", "digest", "--compact"));
        objs.forEach(o -> cmd.add(store.resolve(o).toString()));
        Cli.Result r = Cli.run(cmd, null, Map.of());
        assertEquals(0, r.exit(), r.stderr());
        List<String> digests = r.out().lines().toList();
        assertEquals(objs.size(), digests.size());
        for (int i = 0; i < objs.size(); i++) {
            assertEquals(objs.get(i).replace("/", ""), digests.get(i), objs.get(i));
        }
    }
}
