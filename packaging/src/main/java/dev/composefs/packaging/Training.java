package dev.composefs.packaging;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Trains each launcher's cache at build time, on the real command doing its usual work, with
 * the flags and class path the launcher runs with. JDK 24+ writes an AOT cache (JEP 483, with
 * method profiles from 25 on, JEP 515); JDK 22 and 23 a dynamic class data archive on top of
 * the runtime's own. Nothing is trained at run time.
 */
final class Training {
    private final Path runtime;
    private final List<String> classPath;
    private final String zstdLibrary;
    private final int feature;
    private final Path work;
    private final boolean realMount = canMount();

    Training(Path runtime, List<String> classPath, String zstdLibrary, int feature, Path work) {
        this.runtime = runtime;
        this.classPath = classPath;
        this.zstdLibrary = zstdLibrary;
        this.feature = feature;
        this.work = work;
    }

    /** The VM option that names a cache when it is used. */
    static String cacheFlag(int feature) {
        return feature >= 24 ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=";
    }

    /** Sample inputs: a source tree (the runtime's own files), its image, its store, a container bundle. */
    void prepareInputs() throws IOException, InterruptedException {
        Files.createDirectories(work.resolve("mnt"));
        Files.createDirectories(work.resolve("bundle/rootfs/opt"));
        Files.writeString(work.resolve("bundle/config.json"),
                "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"linux\":{}}\n");
        // The hook's run at createContainer (pid 1): where the build may mount, annotated, so that
        // its cache holds the policy's check and the mount in place too; elsewhere (a policy must
        // be root's) without annotations, which the hook answers by doing nothing.
        String annotations = realMount ? ",\"annotations\":{\"org.composefs.image\":\"" + work.resolve("image.cfs")
                + "\",\"org.composefs.basedir\":\"" + work.resolve("store-untrained") + "\",\"org.composefs.target\":\"/opt\"}"
                : "";
        Files.writeString(work.resolve("state.json"), "{\"ociVersion\":\"1.0.2\",\"id\":\"training\",\"status\":\"creating\","
                + "\"pid\":1,\"bundle\":\"" + work.resolve("bundle") + "\"" + annotations + "}\n");
        Files.writeString(work.resolve("policy.json"), "{\"allowedPaths\": [\"" + work + "\"]}\n");
        // the image and store the other programs train on, made untrained, and its dump
        run(null, List.of(), "mkcomposefs", List.of("--digest-store=" + work.resolve("store-untrained"),
                runtime.toString(), work.resolve("image.cfs").toString()), null, null);
        run(null, List.of(), "composefs-info", List.of("dump", work.resolve("image.cfs").toString()), null,
                work.resolve("image.dump"));
    }

    /**
     * Whether the training may mount: as root, with EROFS and overlayfs in the kernel. The mount
     * is made in a mount namespace of its own (unshare -m), gone with the training run.
     */
    private static boolean canMount() {
        try {
            String fs = Files.readString(Path.of("/proc/filesystems"));
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0 && fs.contains("\terofs\n")
                    && fs.contains("\toverlay\n") && Files.isExecutable(Path.of("/usr/bin/unshare"));
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether mount.composefs's cache is trained on a real mount (else on -f). */
    boolean trainsOnRealMount() {
        return realMount;
    }

    /** The work each program's cache is trained on. */
    List<String> workload(Program p, String cache) {
        String image = work.resolve("image.cfs").toString();
        String store = work.resolve("store-untrained").toString();
        if (Program.isFromFile(cache)) {
            return List.of("--from-file", "-", "-"); // podman's call: the dump on stdin, the image on stdout
        }
        return switch (p.path()) {
            case "bin/mkcomposefs" -> List.of("--digest-store=" + work.resolve("store"), runtime.toString(),
                    work.resolve("trained.cfs").toString());
            case "bin/composefs-info" -> List.of("dump", image);
            case "bin/composefs-dump" -> List.of(image, work.resolve("dumped.cfs").toString());
            case "bin/composefs" -> List.of("fstab-line", image, work.resolve("mnt").toString(),
                    "--options=basedir=" + store);
            case "bin/composefs-fuse" -> List.of("--help"); // a mount would serve until unmounted
            // A real mount where the build may make one: it links the mount calls, which a mount
            // spends most of its run on otherwise. Elsewhere -f, every check a mount makes.
            case "sbin/mount.composefs" -> realMount
                    ? List.of(image, work.resolve("mnt").toString(), "-o", "basedir=" + store)
                    : List.of("-f", image, work.resolve("mnt").toString(), "-o", "basedir=" + store);
            default -> List.of("oci-hook", "--policy=" + work.resolve("policy.json")); // as a runtime starts it
        };
    }

    /** Records p's work into cache. */
    void train(Program p, Path cache) throws IOException, InterruptedException {
        boolean fromFile = Program.isFromFile(cache.getFileName().toString());
        Path stdin = p.dir().equals(Program.LIBEXEC) ? work.resolve("state.json")
                : fromFile ? work.resolve("image.dump") : null;
        Files.deleteIfExists(cache);
        if (feature >= 24) {
            Path conf = work.resolve(cache.getFileName() + ".conf");
            List<String> record = new ArrayList<>(List.of("-XX:AOTMode=record", "-XX:AOTConfiguration=" + conf));
            if (feature >= 25 && p.flags() == Program.HASHING) {
                // a replayed profile compiles at start-up what the training's tree made hot,
                // and a tree of another size pays for it
                record.addAll(List.of("-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTRecordTraining"));
            }
            run(p, record, p.program(), workload(p, cache.getFileName().toString()), stdin, null);
            run(p, List.of("-XX:AOTMode=create", "-XX:AOTConfiguration=" + conf, "-XX:AOTCache=" + cache),
                    p.program(), List.of("--version"), null, null);
            Files.delete(conf);
        } else {
            run(p, List.of("-XX:ArchiveClassesAtExit=" + cache), p.program(), workload(p, cache.getFileName().toString()),
                    stdin, null);
        }
        if (!Files.isRegularFile(cache)) {
            throw new IOException("training " + p.path() + " wrote no cache " + cache);
        }
    }

    /** Fails unless p's launcher flags map cache (the JVM refuses to start otherwise). */
    void verify(Program p, Path cache) throws IOException, InterruptedException {
        List<String> vm = new ArrayList<>(List.of(cacheFlag(feature) + cache));
        vm.add(feature >= 24 ? "-XX:AOTMode=on" : "-Xshare:on");
        run(p, vm, p.program(), List.of("--version"), null, null);
    }

    /**
     * Runs Main as program with args on the bundled runtime, with p's flags (none for p null) and
     * the extra VM options vm; fails with the run's output unless it exits 0. Its standard
     * output goes to stdout if given, else with its errors to a log.
     */
    private void run(Program p, List<String> vm, String program, List<String> args, Path stdin, Path stdout)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        boolean mounts = program.equals("mount.composefs") || p != null && p.dir().equals(Program.LIBEXEC);
        if (realMount && mounts && !args.contains("-f") && !args.contains("--version")) {
            cmd.addAll(List.of("/usr/bin/unshare", "-m", "--propagation", "private", "--"));
        }
        cmd.add(runtime.resolve("bin/java").toString());
        if (p != null) {
            cmd.addAll(p.flags());
            if (p.program().equals("mount.composefs")) {
                // as a plain mount runs (the launcher's choice): a cache recorded with C1 made it
                // slower under the interpreter
                cmd.add("-Xint");
            }
        }
        cmd.addAll(vm);
        cmd.addAll(Launchers.PROPERTIES);
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-DZstdNativePath=" + zstdLibrary);
        cmd.add("-cp");
        cmd.add(String.join(":", classPath));
        cmd.add("dev.composefs.cli.Main");
        cmd.add(program);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(stdout == null);
        pb.environment().keySet().removeAll(Launchers.VM_ENVIRONMENT);
        pb.environment().put("COMPOSEFS_SELF", "/bin/false");
        Path log = work.resolve("run.log");
        pb.redirectOutput(stdout != null ? stdout.toFile() : log.toFile());
        if (stdout != null) {
            pb.redirectError(log.toFile());
        }
        pb.redirectInput(stdin != null ? ProcessBuilder.Redirect.from(stdin.toFile())
                : ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process proc = pb.start();
        if (!proc.waitFor(10, TimeUnit.MINUTES)) {
            proc.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", cmd));
        }
        if (proc.exitValue() != 0) {
            String out = Files.readString(log, StandardCharsets.ISO_8859_1);
            throw new IOException("exit " + proc.exitValue() + ": " + String.join(" ", cmd) + "\n"
                    + out.substring(Math.max(0, out.length() - 4000)));
        }
    }
}
