package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real distribution as an OCI image: Debian bookworm (minbase) made by mmdebstrap from the
 * host's apt sources, added with umoci as the first layer, a second layer from umoci's own diff
 * deleting the documentation (thousands of whiteouts) and adding a file. Imported from the
 * layout and pulled from Debian's docker-registry it is the tree umoci unpacks, it mounts with
 * mount.composefs, and the distribution's own dpkg-query runs in it, chrooted and as the root of
 * a runc container through the runtime hook.
 */
class OciDistroTest {
    @TempDir
    static Path tmp;
    static Path layout;
    static Path rootfs;
    static Registry registry;

    @RegisterExtension
    final MountGuard guard = new MountGuard();

    @BeforeAll
    static void build() throws Exception {
        OciImportTest.assumeTools();
        Infra.requireTool("mmdebstrap");
        Path tar = tmp.resolve("debian.tar");
        Cli.Result deb = Cli.run("/usr/bin/mmdebstrap", "--variant=minbase", "--quiet", "bookworm", tar.toString());
        assertEquals(0, deb.exit(), "mmdebstrap (Debian's mirrors are reachable here): " + deb.stderr());
        layout = tmp.resolve("layout");
        for (List<String> c : List.of(List.of("init", "--layout", layout.toString()),
                List.of("new", "--image", layout + ":12"),
                List.of("raw", "add-layer", "--image", layout + ":12", tar.toString()))) {
            umoci(c);
        }
        Files.delete(tar);
        Path b = tmp.resolve("bundle-edit");
        umoci(List.of("unpack", "--image", layout + ":12", b.toString()));
        Cli.Result edit = Cli.run("/bin/sh", "-c", "rm -rf " + b + "/rootfs/usr/share/doc/* " + b + "/rootfs/usr/share/man"
                + " && echo 'built by the composefs OCI test' > " + b + "/rootfs/etc/composefs-test");
        assertEquals(0, edit.exit(), edit.stderr());
        umoci(List.of("repack", "--image", layout + ":12", b.toString()));
        Cli.run("/bin/rm", "-rf", b.toString());
        rootfs = OciImportTest.unpack(tmp.resolve("bundle-ref"), layout, "12");
        registry = Registry.start(tmp.resolve("registry"), null);
        registry.push(layout, "12", "debian/minbase:12");
    }

    private static void umoci(List<String> args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("/usr/bin/umoci"));
        cmd.addAll(args);
        Cli.Result r = Cli.run(cmd, null, Map.of());
        assertEquals(0, r.exit(), "umoci " + args + ": " + r.stderr());
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void debianImportsAndPullsAsTheTreeUmociUnpacks() throws Exception {
        Path image = tmp.resolve("layout.cfs");
        Cli.Result r = OciImportTest.oci("import", "--print-digest", "--store=" + tmp.resolve("store"), "oci:" + layout + ":12",
                image.toString());
        String digest = OciImportTest.imported(r);
        assertTrue(r.stderr().matches("(?s).*: 2 layers, [0-9]{4,} files; .*"), r.stderr());
        String dump = OciImportTest.dump(image);
        assertTrue(dump.contains("/usr/bin/dpkg ") && dump.contains("/etc/composefs-test ") && !dump.contains("/usr/share/doc/"),
                "the second layer's deletions and addition");
        assertEquals(OciImportTest.dumpOfTree(rootfs, tmp), dump);

        Path pulled = tmp.resolve("pulled.cfs");
        assertEquals(digest, OciImportTest.imported(OciImportTest.oci("pull", "--insecure", "--print-digest",
                "--store=" + tmp.resolve("store-pulled"), registry.host() + "/debian/minbase:12", pulled.toString())));
    }

    @Test
    void debianRunsFromThePulledImageMountedAndAsAContainersRoot() throws Exception {
        MountGuard.assumeMountable();
        Path store = tmp.resolve("store-run");
        Path image = tmp.resolve("run.cfs");
        Cli.Result p = OciImportTest.oci("pull", "--insecure", "--store=" + store, registry.host() + "/debian/minbase:12",
                image.toString());
        assertEquals(0, p.exit(), p.stderr());
        String query = "dpkg-query -W -f '${Package} ${Version}\\n' base-files coreutils libc6; cat /etc/composefs-test";
        Cli.Result expected = Cli.run("/usr/sbin/chroot", rootfs.toString(), "/bin/sh", "-c", query);
        assertEquals(0, expected.exit(), expected.stderr());
        assertTrue(expected.out().startsWith("base-files 12"), expected.out());

        Path mnt = guard.mountpoint(tmp, "debian");
        Cli.Result m = Cli.run("mount.composefs", "-o", "basedir=" + store, image.toString(), mnt.toString());
        assertEquals(0, m.exit(), m.stderr());
        try {
            Cli.Result chrooted = Cli.run("/usr/sbin/chroot", mnt.toString(), "/bin/sh", "-c", query);
            assertEquals(0, chrooted.exit(), chrooted.stderr());
            assertEquals(expected.out(), chrooted.out());
        } finally {
            assertEquals(0, Cli.run("/bin/umount", mnt.toString()).exit());
        }

        Infra.requireTool("runc");
        Path bundle = Runc.bundle(tmp.resolve("bundles/debian"), tmp, Map.of("org.composefs.image", image.toString(),
                "org.composefs.basedir", store.toString()), false, false, List.of("/bin/sh", "-c", query),
                Runc.policy(tmp.resolve("policy.json"), tmp, ""));
        Runc.Run run = Runc.run("runc", bundle, "cfs-debian-" + ProcessHandle.current().pid());
        assertEquals(0, run.exit(), run.err());
        assertEquals(expected.out(), run.out());
    }
}
