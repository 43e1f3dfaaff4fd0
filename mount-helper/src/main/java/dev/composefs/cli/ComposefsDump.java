package dev.composefs.cli;

import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.erofs.ImageFormatException;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.util.AtomicFile;
import dev.composefs.core.util.InputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * composefs-dump SRC DEST: upstream's test tool that reads an image and writes it again through
 * the library, in the format version the image has (its round-trip checks call it). DEST is
 * written like every image (temp name, fsync, rename), or to standard output for "-".
 */
final class ComposefsDump {
    private static final String PROG = "composefs-dump";
    static final String USAGE = """
            Usage: composefs-dump SRC DEST
            Read the composefs image SRC and write it again to DEST ('-': standard output), in
            the same format version: what upstream's composefs-dump does for round-trip tests.
            """;

    private final Main.Io io;

    ComposefsDump(Main.Io io) {
        this.io = io;
    }

    int run(String[] args) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            return print(USAGE);
        }
        if (args.length == 1 && (args[0].equals("-V") || args[0].equals("--version"))) {
            return print(String.join("\n", Version.lines(PROG)) + "\n");
        }
        if (args.length != 2) {
            io.err().println(PROG + ": " + (args.length < 1 ? "no source path specified"
                    : args.length < 2 ? "no destination path specified" : "too many arguments"));
            io.err().print(USAGE);
            return 1;
        }
        String src = args[0];
        String dest = args[1];
        try {
            byte[] image = InputFiles.read(Path.of(src), InputFiles.MAX_IMAGE_SIZE, "image");
            int version;
            Directory root;
            try {
                version = ErofsReader.version(image);
                root = ErofsReader.read(image);
            } catch (ImageFormatException e) {
                Main.report(io, PROG + ": failed to load '" + src + "': " + e.getMessage(), e);
                return 1;
            }
            ErofsWriter.Options options = new ErofsWriter.Options(version, version);
            try {
                AtomicFile.write(dest, out -> ErofsWriter.write(root, options, out), io.out());
            } catch (IOException e) {
                Main.report(io, PROG + ": " + dest + ": cannot write image: " + e.getMessage(), e);
                return 1;
            }
            return 0;
        } catch (IllegalArgumentException e) {
            Main.report(io, PROG + ": failed to load '" + src + "': " + e.getMessage(), e);
            return 1;
        } catch (IOException e) {
            Main.report(io, PROG + ": " + e.getMessage(), e);
            return 1;
        }
    }

    private int print(String text) {
        try {
            io.out().write(text.getBytes(StandardCharsets.UTF_8));
            return 0;
        } catch (IOException e) {
            Main.report(io, PROG + ": " + e.getMessage(), e);
            return 1;
        }
    }
}
