package dev.composefs.cli;

import dev.composefs.core.util.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * composefs generate-completions DIR: a bash completion script for each command, named as
 * bash-completion loads them on demand (by command name). Run by the package build.
 */
@Command(name = "generate-completions", hidden = true, mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Write a bash completion script for every command into DIR.")
final class Completions implements Callable<Integer> {
    private final Main.Io io;

    Completions(Main.Io io) {
        this.io = io;
    }

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "where the scripts go (created if missing)")
    Path dir;

    @Override
    public Integer call() {
        Map<String, String> scripts = new TreeMap<>();
        scripts.put("composefs", AutoComplete.bash("composefs", spec.root().commandLine()));
        scripts.put("composefs-info", AutoComplete.bash("composefs-info", new CommandLine(new ComposefsInfo(io))));
        scripts.put("composefs-fuse", AutoComplete.bash("composefs-fuse", new CommandLine(new ComposefsFuse(io))));
        for (UsagePage u : ManPages.handParsed()) {
            scripts.put(u.name(), u.completion());
        }
        try {
            Files.createDirectories(dir);
            for (var e : scripts.entrySet()) {
                Files.writeString(dir.resolve(e.getKey()), e.getValue(), StandardCharsets.UTF_8);
            }
            return 0;
        } catch (IOException e) {
            Main.report(io, "composefs generate-completions: " + dir + ": " + AtomicFile.reason(e), e);
            return 1;
        }
    }
}
