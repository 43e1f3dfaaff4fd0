package dev.composefs.cli;

import picocli.CommandLine;

/** --version output: ours and the upstream format versions we write. */
final class Version implements CommandLine.IVersionProvider {
    static final String VERSION = "0.1.0";

    @Override
    public String[] getVersion() {
        return lines("${COMMAND-NAME}");
    }

    static String[] lines(String command) {
        return new String[] {
            command + " (composefs-java) " + VERSION,
            "composefs image format versions 0-1 (bit-identical to upstream mkcomposefs)",
            "Java " + Runtime.version()
        };
    }
}
