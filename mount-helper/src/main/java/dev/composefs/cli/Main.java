package dev.composefs.cli;

import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Arrays;
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
        Io io = new Io(System.in, new BufferedOutputStream(System.out, 1 << 16), System.err);
        int[] rc = {1};
        // A large stack: trees are walked recursively in places and may be deep.
        Thread t = new Thread(null, () -> rc[0] = run(args, io), "composefs", 512L << 20);
        t.start();
        t.join();
        try {
            io.out().flush();
        } catch (java.io.IOException e) {
            io.err().println("composefs: cannot write output: " + e.getMessage());
            rc[0] = 1;
        }
        System.exit(rc[0]);
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
        if (prog.equals("composefs") && rest.length > 0 && rest[0].equals("store")) {
            prog = "composefs store";
            rest = Arrays.copyOfRange(rest, 1, rest.length);
        }
        if (prog.equals("mount.composefs")) {
            return new MountComposefs(io).run(rest); // no picocli on the mount path: see MountComposefs
        }
        if (prog.equals("mkcomposefs")) {
            return new MkComposefs(io).run(rest); // nor on the image-building path: see MkComposefs
        }
        Object command = switch (prog) {
            case "composefs store" -> new StoreCommand(io);
            case "composefs-info" -> new ComposefsInfo(io);
            default -> new Umbrella();
        };
        CommandLine cl = new CommandLine(command);
        cl.setOut(new java.io.PrintWriter(io.out(), true));
        cl.setErr(new java.io.PrintWriter(io.err(), true));
        // Usage errors exit 1, as upstream's tools and mount(8) helpers do (picocli's default is 2).
        cl.setParameterExceptionHandler((ex, a) -> {
            io.err().println(cl.getCommandName() + ": " + ex.getMessage());
            io.err().println("Try '" + cl.getCommandName() + " --help' for more information.");
            return 1;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            io.err().println(c.getCommandName() + ": internal error: " + ex);
            ex.printStackTrace(io.err());
            return 1;
        });
        return cl.execute(rest);
    }

    private static boolean isProgram(String s) {
        return s.equals("mkcomposefs") || s.equals("composefs-info") || s.equals("mount.composefs");
    }

    /** `composefs` alone: names the programs. */
    @CommandLine.Command(name = "composefs", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "composefs for the JVM. Programs: mkcomposefs, composefs-info, mount.composefs "
                    + "(run as 'composefs PROGRAM ARGS...' or through the bin/ launchers), and "
                    + "'composefs store fsck|gc' for object store upkeep.")
    static final class Umbrella implements java.util.concurrent.Callable<Integer> {
        @Override
        public Integer call() {
            new CommandLine(this).usage(System.out);
            return 1;
        }
    }
}
