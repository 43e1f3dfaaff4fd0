package dev.composefs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** getopt_long's conventions, as mkcomposefs and mount.composefs take their arguments. */
class GetoptTest {
    private static final Map<String, Boolean> KNOWN = Map.of("-o", true, "-v", false, "-n", false,
            "--store", true, "--strict", false);

    private static Getopt.Parsed parse(String... args) throws Failure {
        return Getopt.parse(args, KNOWN);
    }

    @Test
    void optionsAndOperandsInAnyOrder() throws Failure {
        Getopt.Parsed p = parse("a", "-vn", "-oro,noatime", "b", "--store=/s", "-o", "x", "--store", "/t", "-", "--strict");
        assertEquals(List.of("a", "b", "-"), p.operands());
        assertEquals(List.of(new Getopt.Opt("-v", null), new Getopt.Opt("-n", null), new Getopt.Opt("-o", "ro,noatime"),
                new Getopt.Opt("--store", "/s"), new Getopt.Opt("-o", "x"), new Getopt.Opt("--store", "/t"),
                new Getopt.Opt("--strict", null)), p.options());
        // a short option's value is the rest of its cluster; -- ends the options
        Getopt.Parsed q = parse("-vo", "opts", "--", "-n", "--strict");
        assertEquals(List.of(new Getopt.Opt("-v", null), new Getopt.Opt("-o", "opts")), q.options());
        assertEquals(List.of("-n", "--strict"), q.operands());
        assertEquals(List.of(new Getopt.Opt("-o", "--store")), parse("-o", "--store").options(), "a value may look like an option");
    }

    @Test
    void mistakesAreOneLine() {
        assertEquals("unknown option '-x'", assertThrows(Failure.class, () -> parse("-vx")).getMessage());
        assertEquals("unknown option '--bogus=1'", assertThrows(Failure.class, () -> parse("--bogus=1")).getMessage());
        assertEquals("option -o needs a value", assertThrows(Failure.class, () -> parse("a", "-o")).getMessage());
        assertEquals("option --store needs a value", assertThrows(Failure.class, () -> parse("--store")).getMessage());
        assertEquals("option --strict takes no value", assertThrows(Failure.class, () -> parse("--strict=yes")).getMessage());
        assertEquals(1, assertThrows(Failure.class, () -> parse("-x")).exitCode());
    }
}
