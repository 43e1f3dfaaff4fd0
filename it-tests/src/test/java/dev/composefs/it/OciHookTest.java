package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * composefs oci-hook under Debian's real runc and crun, no container engine: bundles made with
 * `runc spec`, the hook registered for createRuntime as bin/composefs with the args
 * ["composefs", "oci-hook"]. The container's process prints the image's marker; after every run
 * the host's mount table and loop devices are as before and the bundle's rootfs is untouched.
 */
class OciHookTest {
    @TempDir
    static Path tmp;
    static Path image;
    static Path store;
    static String digest;
    static Path policy;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void build() throws Exception {
        MountGuard.assumeMountable();
        for (String rt : List.of("runc", "crun", "nsenter")) {
            Infra.requireTool(rt);
        }
        Path tree = Files.createDirectories(tmp.resolve("tree/bin"));
        Files.copy(Path.of("/bin/busybox"), tree.resolve("busybox"));
        Files.createSymbolicLink(tree.resolve("sh"), Path.of("busybox"));
        for (String d : List.of("proc", "dev", "sys", "tmp")) {
            Files.createDirectories(tmp.resolve("tree").resolve(d));
        }
        Files.writeString(tmp.resolve("tree/marker"), "marker from a composefs image\n");
        store = tmp.resolve("store");
        image = tmp.resolve("image.cfs");
        Cli.Result r = Cli.run("mkcomposefs", "--print-digest", "--digest-store=" + store, tmp.resolve("tree").toString(),
                image.toString());
        assertEquals(0, r.exit(), r.stderr());
        digest = r.out().strip();
        policy = Runc.policy(tmp.resolve("policy.json"), tmp, "");
    }

    private static Path bundle(String name, Map<String, String> annotations, boolean plainRoot, boolean userns,
            String script) throws Exception {
        return Runc.bundle(tmp.resolve("bundles").resolve(name), tmp, annotations, plainRoot, userns,
                List.of("/bin/sh", "-c", script), policy);
    }

    private static Runc.Run run(String runtime, Path bundle, String id) throws Exception {
        return Runc.run(runtime, bundle, id);
    }

    private static Map<String, String> annotations(String... more) {
        Map<String, String> a = new LinkedHashMap<>(Map.of("org.composefs.image", image.toString(),
                "org.composefs.basedir", store.toString()));
        for (int i = 0; i < more.length; i += 2) {
            a.put(more[i], more[i + 1]);
        }
        return a;
    }

    /** Only the runtime's own mount points (dev, proc, sys: empty directories) and the target appeared. */
    private static void rootfsUntouched(Path bundle, boolean plainRoot) throws Exception {
        try (Stream<Path> s = Files.list(bundle.resolve("rootfs"))) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                if (plainRoot && name.equals("bin")) {
                    continue;
                }
                assertTrue(List.of("dev", "proc", "sys", "opt").contains(name), "left in the bundle's rootfs: " + p);
                try (Stream<Path> inside = Files.walk(p)) {
                    assertTrue(inside.allMatch(Files::isDirectory), "only empty directories under " + p);
                }
            }
        }
    }

    @Test
    void theImageIsTheContainersRootUnderRuncAndCrun() throws Exception {
        for (String rt : List.of("runc", "crun")) {
            // this host's store has no fs-verity: digest= with tryverity checks the image, not the objects
            Path b = bundle("root-" + rt, annotations("org.composefs.digest", digest, "org.composefs.options",
                    "tryverity"), false, false, "cat /marker; ls /");
            Runc.Run r = run(rt, b, "cfs-root-" + rt);
            assertEquals(0, r.exit(), rt + ": " + r.err());
            assertTrue(r.out().startsWith("marker from a composefs image\n"), rt + ": " + r.out());
            assertFalse(MountGuard.mounts().stream().anyMatch(m -> m.contains(b.toString())), "nothing on the host");
            rootfsUntouched(b, false);
            try (Stream<Path> run = Files.list(Path.of("/run"))) {
                assertTrue(run.noneMatch(p -> p.getFileName().toString().startsWith(".composefs-root-")),
                        "no staging directory left in /run");
            }
        }
    }

    @Test
    void atAPathInsideAPlainRoot() throws Exception {
        for (String rt : List.of("runc", "crun")) {
            Path b = bundle("opt-" + rt, annotations("org.composefs.target", "/opt/app"), true, false,
                    "cat /opt/app/marker; ls /opt/app/bin");
            Runc.Run r = run(rt, b, "cfs-opt-" + rt);
            assertEquals(0, r.exit(), rt + ": " + r.err());
            assertEquals("marker from a composefs image\nbusybox\nsh\n", r.out(), rt);
            rootfsUntouched(b, true);
            assertTrue(Files.list(b.resolve("rootfs/opt/app")).findAny().isEmpty(), "the mount point stays empty");
        }
    }

    /**
     * The target is resolved inside the rootfs, as the container will see it: a rootfs whose
     * /opt is a symlink to a host directory makes and mounts nothing there.
     */
    @Test
    void aSymlinkInTheRootfsCannotLeadTheTargetOntoTheHost() throws Exception {
        Path host = Files.createDirectories(tmp.resolve("host-dir"));
        Path b = bundle("opt-link", annotations("org.composefs.target", "/opt/app"), true, false, "ls /opt/app/bin");
        Files.createSymbolicLink(b.resolve("rootfs/opt"), host);
        Runc.Run r = run("runc", b, "cfs-opt-link");
        assertNotEquals(0, r.exit(), r.out());
        assertTrue(r.err().contains("composefs oci-hook: target /opt/app: /opt is a symlink to no directory inside "
                + "the container's root"), r.err());
        Files.createDirectories(b.resolve("rootfs").resolve(host.toString().substring(1)));
        r = run("runc", b, "cfs-opt-link2");
        assertEquals(0, r.exit(), r.err());
        assertEquals("busybox\nsh\n", r.out());
        try (Stream<Path> s = Files.list(host)) {
            assertEquals(List.of(), s.toList(), "nothing made or mounted on the host");
        }
    }

    @Test
    void aWrongDigestFailsTheContainerBeforeItsProcessRuns() throws Exception {
        for (String rt : List.of("runc", "crun")) {
            Path b = bundle("bad-" + rt, annotations("org.composefs.digest", "0".repeat(64), "org.composefs.options",
                    "tryverity"), false, false, "cat /marker");
            Runc.Run r = run(rt, b, "cfs-bad-" + rt);
            assertNotEquals(0, r.exit(), rt);
            assertFalse(r.out().contains("marker"), rt + ": the process never ran");
            assertTrue(r.err().contains("wrong fs-verity digest"), rt + ": the hook's message reaches the user: " + r.err());
            rootfsUntouched(b, false);
        }
    }

    /**
     * Registered for createContainer, the hook runs in the container's namespaces already and
     * mounts there itself, with no second process entering them: the whole root and a path in a
     * plain root, under runc and crun, nothing on the host. A user-namespaced container is refused
     * there, with the reason, before its process runs; so is a mount that needs a loop device,
     * which the container's device rules deny (digest= on an image without fs-verity, this host's).
     */
    @Test
    void atCreateContainerTheHookMountsInPlace() throws Exception {
        for (String rt : List.of("runc", "crun")) {
            Path b = Runc.bundle(tmp.resolve("bundles").resolve("cc-root-" + rt), tmp, annotations(), false, false,
                    List.of("/bin/sh", "-c", "cat /marker"), policy, "createContainer");
            Runc.Run r = run(rt, b, "cfs-cc-root-" + rt);
            assertEquals(0, r.exit(), rt + ": " + r.err());
            assertEquals("marker from a composefs image\n", r.out(), rt);
            assertFalse(MountGuard.mounts().stream().anyMatch(m -> m.contains(b.toString())), "nothing on the host");
            rootfsUntouched(b, false);

            Path opt = Runc.bundle(tmp.resolve("bundles").resolve("cc-opt-" + rt), tmp, annotations(
                    "org.composefs.target", "/opt/app"), true, false, List.of("/bin/sh", "-c", "cat /opt/app/marker"),
                    policy, "createContainer");
            r = run(rt, opt, "cfs-cc-opt-" + rt);
            assertEquals(0, r.exit(), rt + ": " + r.err());
            assertEquals("marker from a composefs image\n", r.out(), rt);
            rootfsUntouched(opt, true);
        }
        Path sealed = Runc.bundle(tmp.resolve("bundles").resolve("cc-digest"), tmp, annotations("org.composefs.digest",
                digest, "org.composefs.options", "tryverity"), false, false, List.of("/bin/sh", "-c", "cat /marker"),
                policy, "createContainer");
        Runc.Run d = run("runc", sealed, "cfs-cc-digest");
        if (new ProcessBuilder("fsverity", "measure", image.toString()).start().waitFor() == 0) {
            assertEquals(0, d.exit(), "an image with fs-verity is mounted as it is: " + d.err());
        } else {
            assertNotEquals(0, d.exit());
            assertTrue(d.err().contains("at createContainer the container's device rules deny the loop device this "
                    + "mount needs"), d.err());
        }
        Path b = Runc.bundle(tmp.resolve("bundles").resolve("cc-userns"), tmp, annotations(), false, true,
                List.of("/bin/sh", "-c", "echo started"), policy, "createContainer");
        // the package's own launcher: in the container's user namespace the checkout's files are
        // nobody's, and bin/composefs refuses to run them as root before the hook could say why
        Path config = b.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace(Cli.repo().resolve("bin/composefs").toString(),
                Stage.lib().resolve("libexec/composefs").toString()));
        Runc.Run r = run("runc", b, "cfs-cc-userns");
        assertNotEquals(0, r.exit());
        assertFalse(r.out().contains("started"), "the process never ran");
        assertTrue(r.err().contains("composefs oci-hook: a container with a user namespace cannot get its image at "
                + "createContainer"), r.err());
    }

    @Test
    void aUserNamespacedContainerOwnsTheImagesRootFiles() throws Exception {
        Path b = bundle("userns", annotations(), false, true, "stat -c '%u:%g' /marker /bin/busybox");
        Runc.Run r = run("runc", b, "cfs-userns");
        assertEquals(0, r.exit(), r.err());
        assertEquals("0:0\n0:0\n", r.out(), "idmapped with the container's user namespace");
    }

    /**
     * What an annotation may ask root to do is the policy's: an image outside the allowed paths
     * (here through a symlink into the host's /etc), a store of /, options that name host paths
     * (upperdir=, a trailing backslash that would escape the next comma), a trust anchor of the
     * container's choosing, no policy at all. Each refusal fails the container before its
     * process runs, with one line the runtime shows.
     */
    @Test
    void annotationsAskOnlyWhatThePolicyAllows() throws Exception {
        Path rw = Files.createDirectories(tmp.resolve("rw"));
        Path upper = Files.createDirectories(rw.resolve("upper"));
        Path work = Files.createDirectories(rw.resolve("work"));
        Path link = tmp.resolve("passwd.cfs");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, Path.of("/etc/passwd"));
        Object[][] cases = {
            {annotations("org.composefs.image", link.toString()), policy, "annotation org.composefs.image: " + link
                    + " (/etc/passwd) is not below a path the policy allows"},
            {annotations("org.composefs.basedir", "/"), policy, "annotation org.composefs.basedir: / is not below a path "
                    + "the policy allows"},
            {annotations("org.composefs.options", "upperdir=" + upper + ",workdir=" + work), policy,
                "annotation org.composefs.options: upperdir is not allowed by the policy (allowedOptions: "},
            // (runc quotes the hook's line: the backslash shows doubled, so the line is matched up to it)
            {annotations("org.composefs.options", "tryverity\\"), policy, "annotation org.composefs.options: tryverity"},
            {annotations("org.composefs.trust", tmp.toString()), policy,
                "annotation org.composefs.trust is refused: trust anchors come from the policy only"},
            {annotations(), tmp.resolve("no-policy.json"), "no policy at " + tmp.resolve("no-policy.json")
                + ": containers with composefs annotations are refused until an administrator writes one"},
        };
        int n = 0;
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            Map<String, String> a = (Map<String, String>) c[0];
            Path b = Runc.bundle(tmp.resolve("bundles").resolve("refused-" + n), tmp, a, false, false,
                    List.of("/bin/sh", "-c", "echo started; echo written > /new-file"), (Path) c[1]);
            Runc.Run r = run("runc", b, "cfs-refused-" + n++);
            assertNotEquals(0, r.exit(), a.toString());
            assertFalse(r.out().contains("started"), "the process never ran: " + a);
            assertTrue(r.err().contains("composefs oci-hook: " + c[2]), a + ": " + r.err());
            rootfsUntouched(b, false);
        }
        try (Stream<Path> s = Files.list(upper)) {
            assertEquals(List.of(), s.toList(), "nothing written to the host's directory");
        }
        // a policy another user may write could be widened by that user
        Path loose = Runc.policy(tmp.resolve("loose.json"), tmp, "");
        Files.setPosixFilePermissions(loose, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        Path b = Runc.bundle(tmp.resolve("bundles").resolve("loose"), tmp, annotations(), false, false,
                List.of("/bin/sh", "-c", "echo started"), loose);
        Runc.Run r = run("runc", b, "cfs-loose");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("composefs oci-hook: " + loose + ": the policy must be root's and writable by root only"),
                r.err());
    }

    /**
     * A state or config.json that is not what the runtime spec says (another runtime's, a hand-run
     * hook's): one line naming which document and what is wrong, exit 1, never a stack trace or
     * jackson's multi-line location.
     */
    @Test
    void aMalformedStateOrConfigIsOneLineNamingTheDocument() throws Exception {
        Path b = Files.createDirectories(tmp.resolve("malformed"));
        String creating = "{\"status\":\"creating\",\"pid\":1,\"bundle\":\"" + b + "\"}";
        Path config = b.resolve("config.json");
        String[][] cases = {
            // state, config.json (null: none), the line
            {"", null, "the container state on standard input: not valid JSON: No content to map due to end-of-input"},
            {"[1,2]", null, "the container state on standard input: not valid JSON: Can not read a Map: expect to see "
                    + "START_OBJECT ('{'), instead got: JSON Array"},
            {creating, null, config + ": cannot open the container's config: ENOENT (No such file or directory)"},
            {creating, "{\"annotations\":", config + ": not valid JSON: Unexpected end-of-input within/between Object entries"},
            {creating, "{\"annotations\":\"x\"}", config + ": \"annotations\" is not a JSON object"},
            {creating, "{\"annotations\":{\"org.composefs.image\":\"/i.cfs\",\"org.composefs.basedir\":\"/s\"},"
                    + "\"root\":\"rootfs\"}", config + ": \"root\" is not a JSON object"},
        };
        for (String[] c : cases) {
            Files.deleteIfExists(config);
            if (c[1] != null) {
                Files.writeString(config, c[1]);
            }
            Path state = Files.writeString(tmp.resolve("malformed-state.json"), c[0]);
            Cli.Result r = Cli.run(List.of("composefs", "oci-hook", "--policy=" + policy), state, Map.of());
            assertEquals(1, r.exit(), c[0] + " / " + c[1]);
            assertEquals("composefs oci-hook: " + c[2] + "\n", r.stderr(), c[0] + " / " + c[1]);
        }
        // a FIFO in config.json's place is refused at once, not waited on
        Files.deleteIfExists(config);
        assertEquals(0, Cli.run("/usr/bin/mkfifo", config.toString()).exit());
        Path state = Files.writeString(tmp.resolve("malformed-state.json"), creating);
        Cli.Result r = Cli.run(List.of("composefs", "oci-hook", "--policy=" + policy), state, Map.of());
        assertEquals(1, r.exit());
        assertEquals("composefs oci-hook: " + config + ": the container's config is not a regular file (it is a FIFO)\n",
                r.stderr());
    }

    @Test
    void noAnnotationNothingDoneAndTheHooksJson() throws Exception {
        Path b = bundle("none", Map.of(), true, false, "echo plain");
        Runc.Run r = run("runc", b, "cfs-none");
        assertEquals(0, r.exit(), r.err());
        assertEquals("plain\n", r.out());
        // poststop (and any stage after creation) is harmless: nothing to undo, the namespace took the mounts
        Path state = Files.writeString(tmp.resolve("poststop.json"), "{\"ociVersion\":\"1.0.2\",\"id\":\"x\","
                + "\"status\":\"stopped\",\"bundle\":\"" + b + "\",\"annotations\":{\"org.composefs.image\":\""
                + image + "\"}}");
        Cli.Result post = Cli.run(List.of("composefs", "oci-hook"), state, Map.of());
        assertEquals(0, post.exit(), post.stderr());
        Cli.Result hooks = Cli.run("composefs", "oci-hook", "--print-hooks-json", "--policy=" + policy);
        assertEquals(0, hooks.exit(), hooks.stderr());
        Map<String, Object> h = JSON.std.mapFrom(hooks.out());
        assertEquals("1.0.0", h.get("version"));
        assertEquals(List.of("createRuntime"), h.get("stages"));
        // the hook's own launcher, which starts the VM with a fixed environment, and the policy
        assertEquals(Map.of("path", Stage.lib().resolve("libexec/composefs").toString(), "args",
                List.of("composefs", "oci-hook", "--policy=" + policy)), h.get("hook"));
        assertEquals(Map.of("annotations", Map.of("^org\\.composefs\\.image$", ".+")), h.get("when"));
        hooks = Cli.run("composefs", "oci-hook", "--print-hooks-json", "--stage=createContainer", "--policy=" + policy);
        assertEquals(0, hooks.exit(), hooks.stderr());
        assertEquals(List.of("createContainer"), JSON.std.mapFrom(hooks.out()).get("stages"));
    }
}
