package dev.composefs.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process run of a program through Main.run: its exit code and what it wrote. */
record Run(int exit, byte[] out, String err) {
    static Run of(byte[] stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args, new Main.Io(new ByteArrayInputStream(stdin), out,
                new PrintStream(err, true, StandardCharsets.UTF_8)));
        return new Run(rc, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }

    static Run of(String... args) {
        return of(new byte[0], args);
    }

    String outText() {
        return new String(out, StandardCharsets.UTF_8);
    }

    /** The error output is exactly this one line (and, for usage errors, the pointer to --help). */
    boolean saysOnly(String line) {
        return err.equals(line + "\n") || err.startsWith(line + "\nTry '") && err.lines().count() == 2;
    }
}
