package dev.composefs.packaging;

import java.util.List;

/**
 * One installed command: its launcher's place in the tree, the program name Main is given, and
 * the JVM flags it always runs with (a launcher parses no arguments to choose them, except the
 * mount helper's one choice below).
 *
 * @param name      the launcher's file name, and the name of its cache
 * @param dir       where the launcher goes, relative to the prefix (bin, sbin, lib/composefs-java/libexec)
 * @param program   the program name Main dispatches on
 * @param forOthers run by root for someone else (mount(8), systemd, an OCI runtime): the launcher
 *                  starts the VM with a fixed environment, so no caller chooses its options
 * @param flags     VM flags of every run
 */
record Program(String name, String dir, String program, boolean forOthers, List<String> flags) {

    /** Short runs end before C2 pays off: C1 only, the serial collector, a small first heap. */
    static final List<String> SHORT = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xms16m", "-Xmn8m",
            "-XX:-UsePerfData");

    /**
     * Runs that hash file content hash through libcrypto, at the CPU's speed under C1 too. What
     * survives a young collection is mostly the tree, live to the end: it is tenured at once.
     * The class-file API's stack-map generator, hot while the FFM downcalls are spun, is left to
     * the interpreter: compiled by C1 it keeps a large arena for the rest of the run. A loop in
     * a method called once is compiled early, so the image writer's loops over every entry do
     * not run interpreted to the end.
     */
    static final List<String> HASHING = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xms32m", "-Xmn8m",
            "-XX:MaxTenuringThreshold=0", "-XX:-UsePerfData", "-XX:CompileCommand=quiet",
            "-XX:CompileCommand=exclude,jdk.internal.classfile.impl.StackMapGenerator::processBlock",
            "-XX:Tier3BackEdgeThreshold=6000");

    /** Subcommands that pull and unpack container images want C2: their digests and zlib run in the JDK. */
    static final List<String> GENERAL = List.of("-XX:+UseSerialGC", "-XX:-UsePerfData");

    /** A plain mount is code that runs once: the interpreter alone is faster than with C1's compiler thread. */
    static final List<String> MOUNT_INTERPRETED = List.of("-Xint");

    static final String LIBEXEC = "lib/composefs-java/libexec";

    static final List<Program> ALL = List.of(
            new Program("mkcomposefs", "bin", "mkcomposefs", false, HASHING),
            new Program("composefs-info", "bin", "composefs-info", false, SHORT),
            new Program("composefs-dump", "bin", "composefs-dump", false, SHORT),
            new Program("composefs", "bin", "composefs", false, GENERAL),
            // a server: long-running, its start paid once per mount
            new Program("composefs-fuse", "bin", "composefs-fuse", false, GENERAL),
            new Program("mount.composefs", "sbin", "mount.composefs", true, SHORT),
            // the OCI hook's entry (hooks.d names it), and what the hook runs again inside a container
            new Program("composefs", LIBEXEC, "composefs", true, SHORT));

    /** The launcher's path relative to the prefix. */
    String path() {
        return dir + "/" + name;
    }

    /** The cache's file name: one per launcher, trained on that launcher's own work. */
    String cacheName() {
        return cacheNames().get(0);
    }

    /**
     * The caches the launcher chooses between. mkcomposefs has a second one for --from-file,
     * which podman runs once per layer it pulls: a dump's work loads other classes than a
     * directory's, and a cache that lacks them costs a short run about half its time again.
     */
    List<String> cacheNames() {
        String base = (dir.equals(LIBEXEC) ? "libexec-" : "") + name;
        return program.equals("mkcomposefs") ? List.of(base + ".aot", base + "-from-file.aot") : List.of(base + ".aot");
    }

    /** Whether cache (one of cacheNames) is the one for --from-file. */
    static boolean isFromFile(String cache) {
        return cache.endsWith("-from-file.aot");
    }
}
