package dev.composefs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mkcomposefs's hand-written argument parsing (getopt_long's conventions) and its refusals.
 * Image bytes are checked against upstream's elsewhere (it-tests' conformance and differential tests).
 */
class MkComposefsTest {
    @TempDir
    Path tmp;

    private static final byte[] DUMP = "/ 4096 40755 2 0 0 0 0.0 - - -\n/f 5 100644 1 0 0 0 0.0 - hello -\n"
            .getBytes(StandardCharsets.US_ASCII);

    @Test
    void optionsTakeTheirValueAfterAnEqualsSignOrAsTheNextArgument() throws Exception {
        Path dump = Files.write(tmp.resolve("d"), DUMP);
        Run joined = Run.of("mkcomposefs", "--from-file", "--max-version=1", dump.toString(), "-");
        Run separate = Run.of("mkcomposefs", "--max-version", "1", "--from-file", dump.toString(), "-");
        assertEquals(0, joined.exit(), joined.err());
        assertEquals(0, separate.exit(), separate.err());
        assertArrayEquals(joined.out(), separate.out());
        // standard input; operands after --, which ends the options
        Run stdin = Run.of(DUMP, "mkcomposefs", "--from-file", "-", "-");
        assertArrayEquals(joined.out(), stdin.out());
        Run afterDashes = Run.of("mkcomposefs", "--from-file", "--", dump.toString(), "-");
        assertArrayEquals(joined.out(), afterDashes.out());
        Path dashed = Path.of("--print-digest"); // relative: written in the working directory, removed below
        try {
            Run optionAfterDashes = Run.of("mkcomposefs", "--from-file", dump.toString(), "--", dashed.toString());
            assertEquals(0, optionAfterDashes.exit(), optionAfterDashes.err());
            assertTrue(Files.exists(dashed), "-- made --print-digest the IMAGE operand");
        } finally {
            Files.deleteIfExists(dashed);
        }
        // the image written to a file is the image written to standard output
        Path image = tmp.resolve("i.cfs");
        assertEquals(0, Run.of("mkcomposefs", "--from-file", dump.toString(), image.toString()).exit());
        assertArrayEquals(joined.out(), Files.readAllBytes(image));
    }

    @Test
    void badArgumentsExit1WithOneLineAndThePointerToHelp() throws Exception {
        Path dump = Files.write(tmp.resolve("d"), DUMP);
        Run unknown = Run.of("mkcomposefs", "--frobnicate", dump.toString(), "-");
        assertEquals(1, unknown.exit());
        assertTrue(unknown.saysOnly("mkcomposefs: unknown option '--frobnicate'"), unknown.err());
        Run notNumber = Run.of("mkcomposefs", "--min-version=one", dump.toString(), "-");
        assertEquals(1, notNumber.exit());
        assertTrue(notNumber.saysOnly("mkcomposefs: --min-version=one: not a number"), notNumber.err());
        Run noValue = Run.of("mkcomposefs", "--from-file", dump.toString(), "-", "--digest-store");
        assertEquals(1, noValue.exit());
        assertTrue(noValue.saysOnly("mkcomposefs: option --digest-store needs a value"), noValue.err());
        Run flagValue = Run.of("mkcomposefs", "--from-file=yes", dump.toString(), "-");
        assertEquals(1, flagValue.exit());
        assertTrue(flagValue.saysOnly("mkcomposefs: option --from-file takes no value"), flagValue.err());
        Run none = Run.of("mkcomposefs");
        assertEquals(1, none.exit());
        assertTrue(none.saysOnly("mkcomposefs: missing SOURCE argument"), none.err());
    }

    @Test
    void refusalsOfTheBuildItselfAreOneLine() throws Exception {
        Path dump = Files.write(tmp.resolve("d"), DUMP);
        Run noImage = Run.of("mkcomposefs", "--from-file", dump.toString());
        assertEquals(1, noImage.exit());
        assertTrue(noImage.saysOnly("mkcomposefs: missing IMAGE argument (or use --print-digest-only)"), noImage.err());
        Run storeWithDump = Run.of("mkcomposefs", "--from-file", "--digest-store=" + tmp.resolve("s"), dump.toString(), "-");
        assertEquals(1, storeWithDump.exit());
        assertTrue(storeWithDump.err().contains("apply to a SOURCE directory, not to --from-file"), storeWithDump.err());
        Run missing = Run.of("mkcomposefs", "--from-file", tmp.resolve("nope").toString(), "-");
        assertEquals(1, missing.exit());
        assertTrue(missing.saysOnly("mkcomposefs: " + tmp.resolve("nope") + ": no such file"), missing.err());
        Run badLine = Run.of("/ 4096 40755 2 0 0 0 0.0 - - -\n/x 1 100644 1 0 0 0 late - - -\n".getBytes(StandardCharsets.US_ASCII),
                "mkcomposefs", "--from-file", "-", "-");
        assertEquals(1, badLine.exit());
        assertTrue(badLine.saysOnly("mkcomposefs: stdin: line 2: mtime must be SECONDS.NANOSECONDS"), badLine.err());
        assertEquals(0, badLine.out().length, "nothing written for a refused dump");
        Run format = Run.of("mkcomposefs", "--format=tar", "--from-file", dump.toString(), "-");
        assertEquals(1, format.exit());
        assertTrue(format.err().contains("--format=tar: unknown format"), format.err());
    }
}
