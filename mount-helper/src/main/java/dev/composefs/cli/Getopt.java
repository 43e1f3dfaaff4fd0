package dev.composefs.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * getopt_long's conventions, for the two programs parsed by hand for their start-up (mkcomposefs,
 * mount.composefs; the rest go through picocli): options and operands in any order; short
 * flags cluster (-vn) and a short option's value is the rest of its argument or the next one
 * (-oOPTS, -vo OPTS); a long option's value follows '=' or is the next argument; "-" is an
 * operand and "--" ends the options.
 */
final class Getopt {
    private Getopt() {}

    /** One option as given: its name ("-o", "--from-file") and its value, null for a flag. */
    record Opt(String name, String value) {}

    record Parsed(List<Opt> options, List<String> operands) {}

    /** known: every option name the program takes, and whether it takes a value; others are refused. */
    static Parsed parse(String[] args, Map<String, Boolean> known) throws Failure {
        List<Opt> options = new ArrayList<>();
        List<String> operands = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                operands.addAll(List.of(args).subList(i + 1, args.length));
                break;
            }
            if (!a.startsWith("-") || a.equals("-")) {
                operands.add(a);
            } else if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                String name = eq > 0 ? a.substring(0, eq) : a;
                Boolean takesValue = known.get(name);
                if (takesValue == null) {
                    throw new Failure(1, "unknown option '" + a + "'");
                }
                String value = eq > 0 ? a.substring(eq + 1) : null;
                if (takesValue && value == null) {
                    if (i + 1 >= args.length) {
                        throw new Failure(1, "option " + name + " needs a value");
                    }
                    value = args[++i];
                } else if (!takesValue && value != null) {
                    throw new Failure(1, "option " + name + " takes no value");
                }
                options.add(new Opt(name, value));
            } else {
                for (int k = 1; k < a.length(); k++) {
                    String name = "-" + a.charAt(k);
                    Boolean takesValue = known.get(name);
                    if (takesValue == null) {
                        throw new Failure(1, "unknown option '" + name + "'");
                    }
                    if (!takesValue) {
                        options.add(new Opt(name, null));
                        continue;
                    }
                    String value = k + 1 < a.length() ? a.substring(k + 1) : i + 1 < args.length ? args[++i] : null;
                    if (value == null) {
                        throw new Failure(1, "option " + name + " needs a value");
                    }
                    options.add(new Opt(name, value));
                    break;
                }
            }
        }
        return new Parsed(options, operands);
    }
}
