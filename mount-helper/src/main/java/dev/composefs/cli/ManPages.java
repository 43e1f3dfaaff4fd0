package dev.composefs.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * composefs generate-man-pages DIR: a man page (troff, section 1) for composefs and each of its
 * subcommands, from the same picocli model their --help comes from (picocli's own generator
 * writes AsciiDoc, which needs asciidoctor to become a man page).
 */
@Command(name = "generate-man-pages", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Write man pages (troff) for composefs and every subcommand, composefs-info, composefs-fuse, "
                + "mkcomposefs, composefs-dump (section 1) and mount.composefs (section 8) into DIR.")
final class ManPages implements Callable<Integer> {
    private final Main.Io io;
    private final List<CommandLine> extra;

    /** extra: further top-level commands to document (composefs-info, composefs-fuse). */
    ManPages(Main.Io io, List<CommandLine> extra) {
        this.io = io;
        this.extra = extra;
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "where the pages go (created if missing)")
    Path dir;

    @Override
    public Integer call() {
        List<CommandSpec> all = new ArrayList<>();
        collect(spec.root(), all);
        extra.forEach(cl -> collect(cl.getCommandSpec(), all));
        try {
            Files.createDirectories(dir);
            for (CommandSpec c : all) {
                write(dir.resolve(fileName(c) + ".1"), page(c));
            }
            for (UsagePage u : handParsed()) {
                write(dir.resolve(u.fileName()), u.page());
            }
            io.out().flush();
            return 0;
        } catch (IOException e) {
            Main.report(io, "composefs generate-man-pages: " + dir + ": " + e.getMessage(), e);
            return 1;
        }
    }

    private void write(Path page, String text) throws IOException {
        Files.writeString(page, text, StandardCharsets.UTF_8);
        io.out().write((page + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** The commands whose arguments are parsed by hand, documented from their --help text. */
    static List<UsagePage> handParsed() {
        return List.of(new UsagePage("mkcomposefs", 1, MkComposefs.USAGE),
                new UsagePage("composefs-dump", 1, ComposefsDump.USAGE),
                new UsagePage("mount.composefs", 8, MountComposefs.USAGE));
    }

    private static void collect(CommandSpec c, List<CommandSpec> out) {
        if (c.usageMessage().hidden()) {
            return;
        }
        out.add(c);
        c.subcommands().values().stream().distinct().forEach(sub -> collect(sub.getCommandSpec(), out));
    }

    private static String fileName(CommandSpec c) {
        return c.qualifiedName("-");
    }

    /** The page: NAME, SYNOPSIS, DESCRIPTION, ARGUMENTS, OPTIONS, COMMANDS, SEE ALSO. */
    static String page(CommandSpec c) {
        StringBuilder t = new StringBuilder();
        String version = c.version().length > 0 ? c.version()[0] : "";
        t.append(".TH ").append(quote(fileName(c).toUpperCase())).append(" 1 \"\" ").append(quote(version))
                .append(" \"composefs for the JVM\"\n");
        String[] description = c.usageMessage().description();
        t.append(".SH NAME\n").append(escape(fileName(c))).append(" \\- ")
                .append(escape(firstSentence(description.length > 0 ? description[0] : c.qualifiedName()))).append('\n');
        t.append(".SH SYNOPSIS\n.nf\n");
        String synopsis = c.commandLine().getHelp().synopsis(0).strip();
        for (String line : synopsis.split("\n")) {
            t.append(text(line.strip())).append('\n');
        }
        t.append(".fi\n");
        if (description.length > 0) {
            t.append(".SH DESCRIPTION\n");
            for (String d : description) {
                t.append(text(d)).append("\n.PP\n");
            }
        }
        List<PositionalParamSpec> params = c.positionalParameters().stream().filter(p -> !p.hidden()).toList();
        if (!params.isEmpty()) {
            t.append(".SH ARGUMENTS\n");
            for (PositionalParamSpec p : params) {
                t.append(".TP\n.B ").append(escape(p.paramLabel())).append('\n')
                        .append(text(String.join(" ", p.description()))).append('\n');
            }
        }
        List<OptionSpec> options = c.options().stream().filter(o -> !o.hidden()).toList();
        if (!options.isEmpty()) {
            t.append(".SH OPTIONS\n");
            for (OptionSpec o : options) {
                t.append(".TP\n.B ").append(escape(String.join(", ", o.names())));
                if (o.arity().max() > 0) {
                    t.append(" \\fI").append(escape(o.paramLabel())).append("\\fR");
                }
                t.append('\n').append(text(String.join(" ", o.description()))).append('\n');
            }
        }
        List<CommandLine> subs = c.subcommands().values().stream().distinct()
                .filter(s -> !s.getCommandSpec().usageMessage().hidden()).toList();
        if (!subs.isEmpty()) {
            t.append(".SH COMMANDS\n");
            for (CommandLine s : subs) {
                String[] d = s.getCommandSpec().usageMessage().description();
                t.append(".TP\n.B ").append(escape(s.getCommandName())).append('\n')
                        .append(text(d.length > 0 ? d[0] : "")).append(" See \\fB")
                        .append(escape(fileName(s.getCommandSpec()))).append("\\fR(1).\n");
            }
        }
        if (c.parent() != null) {
            t.append(".SH SEE ALSO\n\\fB").append(escape(fileName(c.parent()))).append("\\fR(1)\n");
        }
        return t.toString();
    }

    private static String firstSentence(String s) {
        int dot = s.indexOf(". ");
        String first = dot < 0 ? s : s.substring(0, dot);
        return first.endsWith(".") ? first.substring(0, first.length() - 1) : first;
    }

    /** A line of running text: escaped, and never starting with a request character. */
    static String text(String s) {
        String e = escape(s);
        return e.startsWith(".") || e.startsWith("'") ? "\\&" + e : e;
    }

    static String escape(String s) {
        return s.replace("\\", "\\e").replace("-", "\\-");
    }

    static String quote(String s) {
        return "\"" + escape(s).replace("\"", "\\(dq") + "\"";
    }
}
