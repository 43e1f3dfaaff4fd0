package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * OCI bundles for Debian's runc and crun with bin/composefs registered as the createRuntime (or
 * createContainer) hook (args ["composefs", "oci-hook", "--policy=FILE"]), made with `runc spec`,
 * and runs of them.
 */
final class Runc {
    private Runc() {}

    record Run(int exit, String out, String err) {}

    /**
     * A policy for the hook (HookPolicy) at file: annotations may name paths below allowed, and
     * the default options. Root's and writable by root only, as the hook requires.
     */
    static Path policy(Path file, Path allowed, String more) throws Exception {
        Files.writeString(file, "{\"allowedPaths\": [\"" + allowed + "\"]" + more + "}");
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        return file;
    }

    /**
     * A bundle at b whose rootfs is empty (the hook mounts the image as root) or a plain busybox
     * root (plainRoot, for other targets); every directory from b up to top is made world-readable.
     */
    static Path bundle(Path b, Path top, Map<String, String> annotations, boolean plainRoot, boolean userns,
            List<String> args, Path policy) throws Exception {
        return bundle(b, top, annotations, plainRoot, userns, args, policy, "createRuntime");
    }

    /** {@link #bundle} with the hook registered for stage. */
    @SuppressWarnings("unchecked")
    static Path bundle(Path b, Path top, Map<String, String> annotations, boolean plainRoot, boolean userns,
            List<String> args, Path policy, String stage) throws Exception {
        Files.createDirectories(b);
        // a user-namespaced container's root (host uid 100000) must reach the bundle
        for (Path p = b; p.startsWith(top); p = p.getParent()) {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Path rootfs = Files.createDirectories(b.resolve("rootfs"));
        if (userns) {
            for (String d : List.of("proc", "dev", "sys")) { // the container's root may not create them
                Files.createDirectories(rootfs.resolve(d));
            }
        }
        if (plainRoot) {
            Files.createDirectories(rootfs.resolve("bin"));
            Files.copy(Path.of("/bin/busybox"), rootfs.resolve("bin/busybox"));
            Files.createSymbolicLink(rootfs.resolve("bin/sh"), Path.of("busybox"));
        }
        Cli.Result spec = Cli.run(List.of("/usr/bin/env", "runc", "spec", "--bundle", b.toString()), null, Map.of());
        assertEquals(0, spec.exit(), spec.stderr());
        Map<String, Object> c = JSON.std.mapFrom(Files.readString(b.resolve("config.json")));
        Map<String, Object> process = (Map<String, Object>) c.get("process");
        process.put("terminal", false);
        process.put("args", args);
        ((Map<String, Object>) c.get("root")).put("readonly", false); // runc would remount the root read-only
        c.put("hooks", Map.of(stage, List.of(Map.of("path", Cli.repo().resolve("bin/composefs").toString(),
                "args", List.of("composefs", "oci-hook", "--policy=" + policy)))));
        c.put("annotations", new LinkedHashMap<>(annotations));
        if (userns) {
            Map<String, Object> linux = (Map<String, Object>) c.get("linux");
            List<Object> ns = new ArrayList<>((List<Object>) linux.get("namespaces"));
            ns.add(Map.of("type", "user"));
            linux.put("namespaces", ns);
            linux.put("uidMappings", List.of(Map.of("containerID", 0, "hostID", 100000, "size", 65536)));
            linux.put("gidMappings", List.of(Map.of("containerID", 0, "hostID", 100000, "size", 65536)));
        }
        Files.writeString(b.resolve("config.json"), JSON.std.asString(c));
        return b;
    }

    /**
     * runc, or crun: crun 1.8 refuses this host's hybrid cgroup layout while its cgroup v2
     * hierarchy has controllers, so it runs in a mount namespace of its own without that hierarchy.
     */
    static Run run(String runtime, Path bundle, String id) throws Exception {
        List<String> cmd = runtime.equals("runc") // through env: Cli.run takes a bare name for one of ours
                ? List.of("/usr/bin/env", "runc", "run", "--bundle", bundle.toString(), id)
                : List.of("/usr/bin/env", "unshare", "-m", "sh", "-c", "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --bundle \""
                        + bundle + "\" " + id);
        Cli.Result r = Cli.run(cmd, null, java.util.Map.of()); // bounded by its wait, not by the pipes
        return new Run(r.exit(), new String(r.stdout(), StandardCharsets.UTF_8), r.stderr());
    }

}
