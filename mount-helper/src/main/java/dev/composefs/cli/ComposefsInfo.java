package dev.composefs.cli;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorFormatException;
import dev.composefs.core.descriptor.DescriptorReader;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.dumpfile.Escaping;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.erofs.ImageFormatException;
import dev.composefs.core.fsverity.FileDigests;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.Payloads;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.util.InputFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs-info: inspect composefs images (upstream's commands and output formats). */
@Command(name = "composefs-info", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Show information about composefs images (EROFS images and kernel-driver descriptors).",
            "Commands: ls, dump, objects, missing-objects (needs --basedir), measure-file (fs-verity digest of any files)."})
final class ComposefsInfo implements Callable<Integer> {
    private final Main.Io io;

    ComposefsInfo(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--basedir", paramLabel = "PATH", description = "object store for missing-objects")
    Path basedir;

    @Option(names = "--filter", paramLabel = "NAME", description = "only the top-level entry NAME and what is "
            + "below it (repeatable; the root itself is always shown), as upstream's --filter")
    List<String> filters = new ArrayList<>();

    @Parameters(index = "0", paramLabel = "COMMAND")
    String command;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "FILE")
    List<String> files;

    @Override
    public Integer call() {
        try {
            switch (command) {
                case "ls" -> eachImage(image -> ls(image.root()));
                case "dump" -> eachImage(image -> DumpWriter.write(image.root(), io.out(), image.directorySizes(),
                        this::selected));
                case "objects" -> objects(false);
                case "missing-objects" -> {
                    if (basedir == null) {
                        throw new Failure(1, "missing-objects needs --basedir=PATH");
                    }
                    if (!Files.isDirectory(basedir)) {
                        throw new Failure(1, "--basedir " + basedir + ": not a directory");
                    }
                    objects(true);
                }
                case "measure-file" -> measure();
                default -> throw new Failure(1, "unknown command '" + command
                        + "' (expected ls, dump, objects, missing-objects or measure-file)");
            }
            io.out().flush();
            return 0;
        } catch (Failure f) {
            Main.report(io, "composefs-info: " + f.getMessage(), f);
            return f.exitCode();
        } catch (IOException e) {
            Main.report(io, "composefs-info: " + e.getMessage(), e);
            return 1;
        }
    }

    /** --filter: the root, and the entries under the named top-level names (all when none is named). */
    private boolean selected(String path) {
        if (filters.isEmpty() || path.equals("/")) {
            return true;
        }
        int end = path.indexOf('/', 1);
        return filters.contains(end < 0 ? path.substring(1) : path.substring(1, end));
    }

    private interface ImageAction {
        void apply(Loaded image) throws IOException;
    }

    /** An EROFS image or a kernel-driver descriptor, read into the tree with the directory sizes it reports. */
    private record Loaded(Directory root, DumpWriter.DirectorySize directorySizes) {}

    private void eachImage(ImageAction action) throws Failure, IOException {
        for (String f : files) {
            action.apply(load(f));
        }
    }

    /** Reads the file once (it may be a pipe such as /dev/stdin) and tells descriptor from EROFS by magic. */
    private Loaded load(String file) throws Failure {
        try {
            byte[] data = InputFiles.read(Path.of(file), InputFiles.MAX_IMAGE_SIZE, "image");
            if (DescriptorReader.looksLikeDescriptor(data)) {
                DescriptorReader.Descriptor d = DescriptorReader.read(data);
                return new Loaded(d.root(), dir -> d.directorySizes().get(dir));
            }
            Directory root = ErofsReader.read(data);
            return new Loaded(root, d -> ErofsWriter.directorySize(d, d == root));
        } catch (ImageFormatException | DescriptorFormatException e) {
            throw new Failure(1, "failed to load '" + file + "': " + e.getMessage(), e);
        } catch (IOException e) {
            throw new Failure(1, e.getMessage(), e);
        }
    }

    private void ls(Directory root) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1 << 16);
        DumpWriter.walk(root, (path, node) -> {
            if (node == root || !selected(path)) {
                return;
            }
            buf.writeBytes(Escaping.escape(path, Escaping.NOESCAPE_SPACE));
            Node target = node instanceof Hardlink ? null : node;
            int type = target == null ? 0 : target.meta().mode() & Meta.S_IFMT;
            if (type == Meta.S_IFDIR) {
                buf.writeBytes("/\t".getBytes(StandardCharsets.US_ASCII));
            } else if (target instanceof Symlink s) {
                buf.writeBytes("\t-> ".getBytes(StandardCharsets.US_ASCII));
                buf.writeBytes(Escaping.escape(s.target(), Escaping.STANDARD));
            } else if (target instanceof RegularFile f && f.payload() != null) {
                buf.writeBytes("\t@ ".getBytes(StandardCharsets.US_ASCII));
                buf.writeBytes(Escaping.escape(f.payload(), Escaping.STANDARD));
            }
            buf.write('\n');
        });
        buf.writeTo(io.out());
    }

    private void objects(boolean missingOnly) throws Failure, IOException {
        TreeSet<String> objects = new TreeSet<>();
        for (String f : files) {
            Directory root = load(f).root();
            DumpWriter.walk(root, (path, node) -> {
                if (node instanceof RegularFile r && r.payload() != null && selected(path)) {
                    objects.add(r.payload());
                }
            });
        }
        OutputStream out = io.out();
        int store = missingOnly ? openStore() : -1;
        try {
            for (String o : objects) {
                if (missingOnly) {
                    // present means: reached as overlayfs reaches it (beneath the store, no symlinks)
                    String rel = Payloads.normalize(o);
                    if (rel == null) {
                        io.err().println("composefs-info: payload " + Escaping.printable(o)
                                + " leaves the store: listed as missing");
                    } else {
                        int fd = Payloads.open(store, rel);
                        if (fd >= 0) {
                            unistd_h.closeQuietly(fd);
                            continue;
                        }
                    }
                }
                out.write(o.getBytes(StandardCharsets.ISO_8859_1));
                out.write('\n');
            }
        } finally {
            unistd_h.closeQuietly(store);
        }
    }

    private int openStore() throws Failure {
        try {
            return fcntl_h.openat(fcntl_h.AT_FDCWD, basedir.toString(), fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY
                    | fcntl_h.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new Failure(1, "--basedir " + basedir + ": " + e.getMessage(), e);
        }
    }

    /** Each file's digest in order, up to the first that has none, which ends the command as upstream's does. */
    private void measure() throws Failure, IOException {
        for (FileDigests.Outcome o : FileDigests.of(files, Runtime.getRuntime().availableProcessors())) {
            if (o.failure() != null) {
                throw new Failure(1, o.failure());
            }
            io.out().write((FsVerity.hex(o.digest()) + "\n").getBytes(StandardCharsets.US_ASCII));
        }
    }
}
