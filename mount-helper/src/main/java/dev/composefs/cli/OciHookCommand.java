package dev.composefs.cli;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountCalls;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import dev.composefs.core.oci.HookPolicy;
import dev.composefs.core.oci.JsonDocument;
import dev.composefs.core.oci.RootfsMount;
import dev.composefs.core.util.InputFiles;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * composefs oci-hook: an OCI runtime hook (runc, crun; podman and CRI-O through hooks.d) that
 * mounts a composefs image as a container's root filesystem, or at a path in it, from the
 * container's annotations. Registered for createRuntime, it runs in the runtime's namespaces
 * with the container's init pid, and enters the container's mount namespace (not its user
 * namespace) in a separate single-threaded process, nsenter(1), since a JVM cannot setns(2) into
 * a mount namespace; there the same orchestrator as mount.composefs mounts the image before the
 * runtime pivots into the root. Registered for createContainer, it already runs in the
 * container's namespaces, and mounts in place: one process instead of two, for containers
 * without a user namespace (there it lacks the host's privileges). Nothing appears in the host's
 * mount table, and everything goes with the container's mount namespace.
 */
@Command(name = "oci-hook", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"OCI runtime hook (stage createRuntime, or createContainer for containers without a user "
                + "namespace: one process instead of two): reads the container state on standard input and "
                + "mounts the image named by the annotations org.composefs.image, org.composefs.basedir (':'-separated "
                + "stores), org.composefs.digest, org.composefs.signature, org.composefs.target ('/' by default: the "
                + "whole root) and org.composefs.options (further mount options the policy allows) in the container's "
                + "mount namespace. A container with uid/gid mappings gets an idmapped mount in its user namespace. No "
                + "annotation: nothing is done.",
            "The administrator's policy (--policy, default /etc/composefs/oci-hook.json) decides what annotations may "
                + "ask for: {\"allowedPaths\": [DIR...], \"allowedOptions\": [OPTION...], \"trust\": DIR, "
                + "\"requireSignature\": BOOL}. Images, stores and signatures must lie below an allowed path once "
                + "every symlink is resolved; options not in allowedOptions (default ro, verity, tryverity, noatime; "
                + "never basedir, upperdir, workdir) are refused; trust anchors come from the policy only. Without a "
                + "policy, every container with composefs annotations is refused.",
            "--print-hooks-json prints the hooks.d entry for podman and CRI-O."})
final class OciHookCommand implements Callable<Integer> {
    private static final String PROG = "composefs oci-hook";
    private static final String PREFIX = "org.composefs.";

    private final Main.Io io;

    OciHookCommand(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--print-hooks-json", description = "print the hooks.d entry (containers/common oci-hooks(5))")
    boolean printHooksJson;

    /** The stages the hook can be registered for; the first is the default of --print-hooks-json. */
    enum Stage { createRuntime, createContainer }

    @Option(names = "--stage", paramLabel = "STAGE", defaultValue = "createRuntime", description = "with "
            + "--print-hooks-json: the stage to register, ${COMPLETION-CANDIDATES}; createContainer runs one process "
            + "per container instead of two, for containers without a user namespace only (default: ${DEFAULT-VALUE})")
    Stage stage;

    @Option(names = "--policy", paramLabel = "FILE", description = "the administrator's policy: which paths and "
            + "options a container's annotations may name (default: /etc/composefs/oci-hook.json; without one, a "
            + "container with composefs annotations is refused)")
    Path policy;

    // the part that runs inside the container's mount namespace (nsenter runs it)
    @Option(names = "--inside", hidden = true)
    boolean inside;

    @Option(names = "--rootfs", hidden = true)
    Path rootfs;

    @Option(names = "--target", hidden = true)
    String target;

    @Option(names = "--options", hidden = true)
    String options;

    @Option(names = "--image", hidden = true)
    Path image;

    @Override
    public Integer call() {
        try {
            if (printHooksJson) {
                return printHooks();
            }
            return inside ? mountInside() : hook();
        } catch (Failure f) {
            report(f);
            return f.exitCode();
        } catch (MountException e) {
            report(e);
            return e.isUsage() ? 1 : 32;
        } catch (IOException e) {
            report(e);
            return 1;
        }
    }

    /**
     * The reason a container is not created, where its user sees it: on standard error, which runc
     * shows in its own error; crun discards a hook's standard error (unless the annotation
     * run.oci.hooks.stderr names a file), so then the line goes to the runtime's standard error.
     */
    private void report(Exception failure) {
        String line = PROG + ": " + failure.getMessage();
        Main.report(io, line, failure);
        if (inside) {
            return; // the outer hook relays it
        }
        try {
            if (Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString().equals("/dev/null")) {
                long runtime = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
                if (runtime > 0) {
                    Files.writeString(Path.of("/proc/" + runtime + "/fd/2"), line + "\n",
                            StandardOpenOption.APPEND);
                }
            }
        } catch (IOException | RuntimeException e) {
            // the exit code still fails the container
        }
    }

    private static String self() throws Failure {
        String self = System.getenv("COMPOSEFS_SELF");
        if (self == null || self.isEmpty()) {
            throw new Failure(1, "run it through the composefs launcher (bin/composefs), which names itself in "
                    + "COMPOSEFS_SELF");
        }
        try {
            return Path.of(self).toRealPath().toString(); // the launcher names it through its bin/.. or libexec/..
        } catch (IOException | RuntimeException e) {
            return self;
        }
    }

    private int printHooks() throws IOException, Failure {
        Map<String, Object> entry = Map.of(
                "version", "1.0.0",
                "hook", Map.of("path", self(), "args", List.of("composefs", "oci-hook",
                        "--policy=" + (policy != null ? policy.toAbsolutePath() : HookPolicy.DEFAULT))),
                "when", Map.of("annotations", Map.of("^org\\.composefs\\.image$", ".+")),
                "stages", List.of(stage.name()));
        io.out().write((JSON.std.with(JSON.Feature.PRETTY_PRINT_OUTPUT).asString(entry) + "\n")
                .getBytes(StandardCharsets.UTF_8));
        io.out().flush();
        return 0;
    }

    /** The hook as the runtime runs it: state on stdin, config.json in the bundle. */
    private int hook() throws IOException, Failure, MountException {
        Map<String, Object> state = JsonDocument.parse(io.in().readAllBytes(), "the container state on standard input");
        String status = String.valueOf(state.get("status"));
        if (!status.equals("creating") && !status.equals("created")) {
            return 0; // poststop and the like: the mounts went with the container's namespace
        }
        Path bundle = Path.of(String.valueOf(state.get("bundle")));
        Path configFile = bundle.resolve("config.json");
        byte[] configBytes;
        // bounded, and type-checked on the open fd: a FIFO in its place must not hang the runtime
        configBytes = InputFiles.read(configFile, InputFiles.Kind.REGULAR, MAX_CONFIG, "the container's config");
        Map<String, Object> config = JsonDocument.parse(configBytes, configFile.toString());
        Map<String, Object> annotations = state.containsKey("annotations")
                ? object(state, "annotations", "the container state") : object(config, "annotations", configFile.toString());
        if (annotations.get(PREFIX + "image") == null) {
            return 0;
        }
        Object pid = state.get("pid");
        if (!(pid instanceof Number)) {
            throw new Failure(1, "the state has no pid: register the hook for createRuntime (or prestart)");
        }
        Map<String, Object> linux = object(config, "linux", configFile.toString());
        boolean userMapped = linux.get("uidMappings") instanceof List<?> m && !m.isEmpty();
        // At createContainer, runc and crun run the hook inside the container's namespaces and give
        // its init's pid as the container sees it (1, or 0), never a host pid as at createRuntime:
        // the mount is made right here, by this process, with no second one entering the namespace.
        boolean inPlace = ((Number) pid).longValue() <= 1;
        if (inPlace && userMapped) {
            throw new Failure(1, "a container with a user namespace cannot get its image at createContainer, which "
                    + "runs in that namespace without the host's privileges: register the hook for createRuntime");
        }
        // files owned by the image's root belong to the container's root
        Path userNs = userMapped ? Path.of("/proc/" + pid + "/ns/user") : null;
        Map<String, Object> root = object(config, "root", configFile.toString());
        HookPolicy.Request request;
        try {
            request = loadPolicy().check(annotations, userNs);
        } catch (HookPolicy.Refused e) {
            throw new Failure(1, e.getMessage(), e);
        }
        String opts = request.options();
        String imageA = request.image().toString();
        String targetA = request.target();
        Path rootPath = bundle.resolve(String.valueOf(root.getOrDefault("path", "rootfs")));
        if (inPlace) {
            try {
                RootfsMount.mount(new Mounter(KernelProbe.running(), s -> { }), MountCalls.NATIVE, request.image(),
                        rootPath, targetA, MountOptions.parse(opts));
            } catch (MountException e) {
                if (loopDenied(e)) {
                    throw MountException.failed(e.getMessage() + ": at createContainer the container's device rules "
                            + "deny the loop device this mount needs (a kernel before 6.12, or digest= on an image "
                            + "without fs-verity, which is mounted from a sealed copy): register the hook for "
                            + "createRuntime", e);
                }
                throw e;
            }
            return 0;
        }
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--target", pid.toString(), "--mount", "--", self(),
                "oci-hook", "--inside", "--rootfs", rootPath.toString(), "--target", targetA, "--options",
                opts.toString(), "--image", imageA));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.PIPE).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc;
        try {
            rc = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(1, "interrupted");
        }
        if (rc != 0) {
            // the inner part's reason, without its program name (report adds it)
            throw new Failure(rc, err.strip().replaceFirst("^" + PROG + ": ", ""));
        }
        return 0;
    }

    /** Whether a mount failed because this process may not open a loop device (a container's device cgroup). */
    private static boolean loopDenied(MountException e) {
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof SyscallException se && (se.is(Errno.EPERM) || se.is(Errno.EACCES))
                    && se.getMessage().contains("/dev/loop")) {
                return true;
            }
        }
        return false;
    }

    /** The policy of --policy, or of /etc/composefs/oci-hook.json; without one, every annotated container is refused. */
    private HookPolicy loadPolicy() throws HookPolicy.Refused, IOException {
        Path file = policy != null ? policy : HookPolicy.DEFAULT;
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new HookPolicy.Refused("no policy at " + file + ": containers with composefs annotations are refused "
                    + "until an administrator writes one (see composefs-oci-hook(1)), or names one with --policy=FILE in "
                    + "the hook's args");
        }
        HookPolicy.checkOwner(file);
        return HookPolicy.parse(InputFiles.read(file, InputFiles.Kind.REGULAR, MAX_CONFIG, "the hook's policy"),
                file.toString());
    }

    /** config.json and the policy are small documents; a runtime's config is far below this. */
    private static final long MAX_CONFIG = 16L << 20;

    /** A member that must be a JSON object where it is given (a runtime's state or config from elsewhere may differ). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Map<String, Object> doc, String key, String where) throws Failure {
        Object v = doc.get(key);
        if (v == null) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?>)) {
            throw new Failure(1, where + ": \"" + key + "\" is not a JSON object");
        }
        return (Map<String, Object>) v;
    }

    /** Inside the container's mount namespace: the same orchestrator as mount.composefs. */
    private int mountInside() throws MountException, IOException {
        MountOptions o = MountOptions.parse(options);
        Mounter.Result r = RootfsMount.mount(new Mounter(KernelProbe.running(), s -> { }), MountCalls.NATIVE, image,
                rootfs, target, o);
        io.err().println(PROG + ": " + image + " mounted at " + target + " in the container (" + r.strategy() + ")");
        return 0;
    }
}
