package dev.composefs.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/**
 * Entry point of every launcher: the first argument is the program name the launcher was
 * invoked as (mkcomposefs, composefs-info, mount.composefs, or the umbrella composefs).
 */
public final class Main {
    private Main() {}

    /** Standard streams of one invocation, so commands can run in-process in tests. */
    public record Io(InputStream in, OutputStream out, PrintStream err) {}

    public static void main(String[] args) throws InterruptedException {
        // Standard output straight on fd 1, not System.out: a PrintStream swallows write errors,
        // and a full disk or a closed pipe must fail the command.
        Io io = new Io(System.in, new BufferedOutputStream(new Stdout(), 1 << 16), System.err);
        int[] rc = {1};
        // A large stack: trees are walked recursively in places and may be deep.
        Thread t = new Thread(null, () -> rc[0] = guarded(args, io), "composefs", 512L << 20);
        t.start();
        t.join();
        try {
            io.out().flush();
        } catch (IOException e) {
            if (rc[0] == 0) { // a failed command has said why already
                report(io, programName(args) + ": " + e.getMessage(), e);
                rc[0] = 1;
            }
        }
        io.err().flush();
        // halt, not System.exit: Runtime.exit first asks for a System.Logger to log the exit,
        // which opens every jar on the class path looking for a LoggerFinder, a large part of a
        // mount helper's run. Nothing here registers shutdown hooks, and both streams are flushed.
        Runtime.getRuntime().halt(rc[0]);
    }

    /**
     * run(), with whatever escapes it turned into one line: no input may show a user a stack
     * trace. The mount helper's failures exit 32, as mount(8) expects.
     */
    static int guarded(String[] args, Io io) {
        try {
            return run(args, io);
        } catch (OutOfMemoryError e) {
            report(io, programName(args) + ": out of memory (the input is larger than this JVM's heap of "
                    + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB)", e);
        } catch (StackOverflowError e) {
            report(io, programName(args) + ": input nested too deeply (stack overflow)", e);
        } catch (RuntimeException | Error e) { // Error: a class or native library that would not load, and worse
            report(io, programName(args) + ": internal error: " + firstLine(e), e);
        }
        return args.length > 0 && args[0].equals("mount.composefs") ? 32 : 1;
    }

    /** A failure as its user sees it: one line, then with COMPOSEFS_DEBUG=1 the stack trace of its cause. */
    static void report(Io io, String line, Throwable cause) {
        io.err().println(line);
        if ("1".equals(System.getenv("COMPOSEFS_DEBUG"))) {
            cause.printStackTrace(io.err());
        }
    }

    /** The throwable's class and the first line of its message: some libraries' messages run to paragraphs. */
    static String firstLine(Throwable t) {
        String s = t.toString();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static String programName(String[] args) {
        return args.length == 0 ? "composefs" : args[0];
    }

    /** fd 1, whose write errors say that they are about standard output. */
    private static final class Stdout extends OutputStream {
        private final FileOutputStream out = new FileOutputStream(FileDescriptor.out);

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                if ("Broken pipe".equals(e.getMessage())) {
                    // The reader is gone (`composefs-info ls IMAGE | head`): end as a C program
                    // ends on SIGPIPE, at once, silently and with its status (128 + 13).
                    System.err.flush();
                    Runtime.getRuntime().halt(141);
                }
                throw new IOException("cannot write to standard output: " + e.getMessage(), e);
            }
        }
    }

    /** A PrintStream hides write errors until asked: commands that print through one ask at the end. */
    static void checkWritten(PrintStream out) throws IOException {
        out.flush();
        if (out.checkError()) {
            throw new IOException("cannot write to standard output");
        }
    }

    public static int run(String[] args, Io io) {
        if (args.length == 0) {
            io.err().println("usage: composefs PROGRAM [ARGS...]");
            return 1;
        }
        String prog = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (prog.equals("composefs") && rest.length > 0 && isProgram(rest[0])) {
            prog = rest[0];
            rest = Arrays.copyOfRange(rest, 1, rest.length);
        }
        if (prog.equals("mount.composefs")) {
            return new MountComposefs(io).run(rest); // no picocli on the mount path: see MountComposefs
        }
        if (prog.equals("composefs-dump")) {
            return new ComposefsDump(io).run(rest);
        }
        if (prog.equals("mkcomposefs")) {
            return new MkComposefs(io).run(rest); // nor on the image-building path: see MkComposefs
        }
        CommandLine cl = prog.equals("composefs-info") ? new CommandLine(new ComposefsInfo(io))
                : prog.equals("composefs-fuse") ? new CommandLine(new ComposefsFuse(io))
                : umbrella(io, rest.length > 0 ? rest[0] : "");
        cl.setOut(new PrintWriter(io.out(), true));
        cl.setErr(new PrintWriter(io.err(), true));
        // Usage errors exit 1, as upstream's tools and mount(8) helpers do (picocli's default is 2).
        cl.setParameterExceptionHandler((ex, a) -> {
            String name = ex.getCommandLine().getCommandSpec().qualifiedName();
            io.err().println(name + ": " + ex.getMessage());
            io.err().println("Try '" + name + " --help' for more information.");
            return 1;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            // One line, never a stack trace: the commands turn expected failures into messages themselves.
            report(io, c.getCommandSpec().qualifiedName() + ": internal error: " + firstLine(ex), ex);
            return 1;
        });
        return cl.execute(rest);
    }

    /**
     * `composefs` and its subcommands, each made with this invocation's streams; picocli
     * generates their help and, through generate-completion, a bash completion script. A run of
     * one subcommand (first is its name) gets only that one: picocli reflects over every command
     * it is given, and the OCI hook runs twice per container start. The commands that describe
     * the whole (help, completion, man pages) and a name that is none get them all.
     */
    private static CommandLine umbrella(Io io, String first) {
        CommandLine cl = new CommandLine(new Umbrella());
        boolean describesAll = first.equals("generate-completion") || first.equals("generate-man-pages")
                || first.equals("generate-completions");
        Object only = describesAll ? null : subcommand(first, io);
        if (only != null) {
            return cl.addSubcommand(first, only);
        }
        for (String name : SUBCOMMANDS) {
            cl.addSubcommand(name, subcommand(name, io));
        }
        return cl;
    }

    private static final List<String> SUBCOMMANDS = List.of("store", "sign", "verify", "enable-verity", "mount-unit",
            "fstab-line", "oci-hook", "oci", "repo", "generate-completion", "generate-man-pages", "generate-completions");

    /** The subcommand called name, made with io; null if there is none. */
    private static Object subcommand(String name, Io io) {
        return switch (name) {
            case "store" -> new StoreCommand(io);
            case "sign" -> new SignCommand(io);
            case "verify" -> new VerifyCommand(io);
            case "enable-verity" -> new EnableVerityCommand(io);
            case "mount-unit" -> new MountUnitCommand.Unit(io);
            case "fstab-line" -> new MountUnitCommand.Fstab(io);
            case "oci-hook" -> new OciHookCommand(io);
            case "oci" -> new OciCommand(io);
            case "repo" -> new RepoCommand(io);
            case "generate-completion" -> new picocli.AutoComplete.GenerateCompletion();
            case "generate-man-pages" -> new ManPages(io, List.of(new CommandLine(new ComposefsInfo(io)),
                    new CommandLine(new ComposefsFuse(io))));
            case "generate-completions" -> new Completions(io);
            default -> null;
        };
    }

    private static boolean isProgram(String s) {
        return s.equals("mkcomposefs") || s.equals("composefs-info") || s.equals("mount.composefs")
                || s.equals("composefs-dump") || s.equals("composefs-fuse");
    }

    /** `composefs` alone: names the programs. */
    @CommandLine.Command(name = "composefs", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "composefs for the JVM. Programs: mkcomposefs, composefs-info, composefs-dump, mount.composefs "
                    + "(run as 'composefs PROGRAM ARGS...' or through the bin/ launchers), and "
                    + "'composefs store fsck|gc' for object store upkeep, 'composefs sign', 'composefs verify' and "
                    + "'composefs enable-verity' for image signatures, 'composefs mount-unit' and 'composefs "
                    + "fstab-line' for systemd, 'composefs oci-hook' for runc, crun, podman and CRI-O, 'composefs oci import|pull' for "
                    + "container images from OCI layouts, docker archives and registries, 'composefs repo' for a "
                    + "repository of named images.")
    static final class Umbrella implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().usage(spec.commandLine().getErr());
            return 1;
        }
    }
}
