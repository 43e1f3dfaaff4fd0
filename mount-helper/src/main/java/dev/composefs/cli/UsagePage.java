package dev.composefs.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A man page and a bash completion made from the --help text of a command whose arguments are
 * parsed by hand (mkcomposefs, mount.composefs, composefs-dump): the page cannot drift from the
 * help. The text's shape: "Usage:" lines, paragraphs, and items indented by two spaces, a term
 * and its description two or more spaces apart, continued on lines indented further.
 */
record UsagePage(String name, int section, String usage) {

    private static final Pattern ITEM = Pattern.compile("^  (\\S.*?)(?: {2,}(\\S.*))?$");
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--?[A-Za-z][\\w-]*=?)");

    /** The troff page: NAME, SYNOPSIS, DESCRIPTION with the usage's paragraphs and items. */
    String page() {
        List<String> lines = usage.strip().lines().toList();
        StringBuilder t = new StringBuilder();
        t.append(".TH ").append(ManPages.quote(name.toUpperCase())).append(' ').append(section).append(" \"\" ")
                .append(ManPages.quote(Version.lines(name)[0])).append(" \"composefs for the JVM\"\n");
        int i = 0;
        List<String> synopsis = new ArrayList<>();
        while (i < lines.size() && (lines.get(i).startsWith("Usage:") || lines.get(i).strip().startsWith(name + " "))) {
            synopsis.add(lines.get(i).replaceFirst("^Usage:", "").strip());
            i++;
        }
        String summary = i < lines.size() ? lines.get(i).strip() : name;
        t.append(".SH NAME\n").append(ManPages.escape(name)).append(" \\- ")
                .append(ManPages.escape(summary.replaceAll("\\.$", ""))).append('\n');
        t.append(".SH SYNOPSIS\n.nf\n");
        synopsis.forEach(s -> t.append(ManPages.text(s)).append('\n'));
        t.append(".fi\n.SH DESCRIPTION\n");
        boolean inItems = false;
        for (; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher m = ITEM.matcher(line);
            if (line.startsWith("   ") && inItems) {
                t.append(ManPages.text(line.strip())).append('\n'); // an item's description goes on
            } else if (line.startsWith("  ") && m.matches()) {
                inItems = true;
                t.append(".TP\n.B ").append(ManPages.escape(m.group(1))).append('\n');
                if (m.group(2) != null) {
                    t.append(ManPages.text(m.group(2))).append('\n');
                }
            } else if (line.endsWith(":") && !line.startsWith(" ")) {
                inItems = false;
                t.append(".SS ").append(ManPages.escape(line.substring(0, line.length() - 1))).append('\n');
            } else {
                if (inItems) {
                    t.append(".PP\n");
                }
                inItems = false;
                t.append(ManPages.text(line.strip())).append('\n');
            }
        }
        return t.toString();
    }

    /** The page's file name: NAME.SECTION. */
    String fileName() {
        return name + "." + section;
    }

    /** A bash completion: the options its help names, and file names elsewhere. */
    String completion() {
        List<String> options = new ArrayList<>();
        Matcher m = OPTION.matcher(usage);
        while (m.find()) {
            if (!options.contains(m.group(1))) {
                options.add(m.group(1));
            }
        }
        String fn = "_" + name.replaceAll("[^A-Za-z0-9]", "_");
        return """
                # bash completion for NAME (composefs-java), generated from its --help
                FN() {
                    local cur=${COMP_WORDS[COMP_CWORD]}
                    if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "OPTIONS" -- "$cur"))
                        [[ ${COMPREPLY[0]-} == *= ]] && compopt -o nospace
                    else
                        COMPREPLY=($(compgen -f -- "$cur"))
                    fi
                }
                complete -o filenames -F FN NAME
                """.replace("FN", fn).replace("NAME", name).replace("OPTIONS", String.join(" ", options));
    }
}
