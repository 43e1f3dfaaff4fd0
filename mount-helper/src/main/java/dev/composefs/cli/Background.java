package dev.composefs.cli;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Serving in the background, as a C server forks: this JVM starts another with the same runtime,
 * class path and flags, running the server in the foreground form, and returns once that one
 * says it has mounted (or exits with its status if it could not; it has said why on the shared
 * standard error).
 */
final class Background {
    private Background() {}

    private static final String MAIN = Main.class.getName();

    /** Runs programArgs (the program's name first) with -f --notify-ready as a server of its own. */
    static int start(Main.Io io, String prog, List<String> programArgs) {
        List<String> cmd;
        try {
            cmd = self(programArgs);
        } catch (IOException e) {
            io.err().println(prog + ": " + e.getMessage());
            return 1;
        }
        try {
            Process server = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8))) {
                if ("ready".equals(r.readLine())) {
                    return 0;
                }
            }
            int rc = server.waitFor();
            return rc == 0 ? 32 : rc;
        } catch (IOException e) {
            Main.report(io, prog + ": cannot start the server: " + e.getMessage(), e);
            return 32;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 32;
        }
    }

    /**
     * This JVM's command line with the program's arguments replaced: the first of programArgs,
     * then -f --notify-ready, then the rest. The interpreter-only flag of short runs is dropped:
     * a server runs long.
     */
    static List<String> self(List<String> programArgs) throws IOException {
        ProcessHandle.Info info = ProcessHandle.current().info();
        Optional<String> command = info.command();
        Optional<String[]> arguments = info.arguments();
        if (command.isEmpty() || arguments.isEmpty()) {
            throw new IOException("cannot find this process's command line to start the server: use -f");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(command.get());
        String[] args = arguments.get();
        int entry = -1; // where the JVM's own arguments end: the main class, or -jar and its jar
        for (int i = 0; i < args.length && entry < 0; i++) {
            if (args[i].equals(MAIN)) {
                entry = i;
            } else if (args[i].equals("-jar") && i + 1 < args.length) {
                cmd.add(args[i]);
                entry = i + 1;
            } else if (!args[i].equals("-Xint")) {
                cmd.add(args[i]);
            }
        }
        if (entry < 0) {
            throw new IOException("not started through a composefs launcher (no " + MAIN + " or -jar in its command line): "
                    + "use -f");
        }
        cmd.add(args[entry]);
        cmd.add(programArgs.get(0));
        cmd.add("-f");
        cmd.add("--notify-ready");
        cmd.addAll(programArgs.subList(1, programArgs.size()));
        return cmd;
    }
}
