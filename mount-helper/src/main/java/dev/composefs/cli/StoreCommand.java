package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DriverImage;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.repository.StoreMaintenance;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.TreeException;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** composefs store fsck|gc: object store upkeep (composefs-rs has the same; upstream's C tools do not). */
@Command(name = "store", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Object store upkeep.",
            "fsck STORE: check every object's fs-verity digest against its name; mismatches are reported, "
                + "never deleted (exit 1 if any). Leftover temporary files are removed.",
            "fsck STORE IMAGE...: also name the files of the images that not every user may read, where the store "
                    + "holding their objects is open to every user.",
            "gc STORE IMAGE...: remove every object none of the images refers to, and leftover temporary files."})
final class StoreCommand implements Callable<Integer> {
    private final Main.Io io;

    StoreCommand(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--dry-run", description = "only report what would be removed")
    boolean dryRun;

    @Option(names = "--threads", paramLabel = "N", description = "fsck threads (default: number of processors)")
    Integer threads;

    @Parameters(index = "0", paramLabel = "COMMAND", description = "fsck or gc")
    String command;

    @Parameters(index = "1", paramLabel = "STORE")
    Path store;

    @Parameters(index = "2..*", arity = "0..*", paramLabel = "IMAGE")
    List<Path> images = new ArrayList<>();

    @Override
    public Integer call() {
        try {
            return switch (command) {
                case "fsck" -> fsck();
                case "gc" -> gc();
                default -> throw new Failure(1, "unknown command '" + command + "' (expected fsck or gc)");
            };
        } catch (Failure f) {
            Main.report(io, "composefs store: " + f.getMessage(), f);
            return f.exitCode();
        } catch (IOException e) {
            Main.report(io, "composefs store " + command + ": " + e.getMessage(), e);
            return 1;
        }
    }

    private int fsck() throws Failure, IOException {
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1) {
            throw new Failure(1, "--threads must be at least 1");
        }
        PrintStream out = out();
        warnIfOpen(readImages(""));
        // Removing leftover temporaries needs every writer gone; a dry run only reads.
        try (ObjectStore s = open(dryRun ? ObjectStore.Lock.SHARED : ObjectStore.Lock.EXCLUSIVE)) {
            var report = StoreMaintenance.fsck(s, n, dryRun, progress(), out::println);
            report.problems().forEach(p -> out.println("ERROR " + p));
            out.println(report.objects() + " objects checked (" + Progress.bytes(report.bytes()) + "), "
                    + report.problems().size() + " problems");
            Main.checkWritten(out);
            return report.problems().isEmpty() ? 0 : 1;
        }
    }

    /**
     * Objects are 0644 whatever the mode of the files they hold (a 0600 /etc/shadow too): a store
     * others can enter gives every user what the images' modes keep from them. New stores are
     * made 0700. With images named, the warning says which of their private files the store
     * holds; without, only that it is open.
     */
    private void warnIfOpen(List<Directory> trees) {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(store, "unix:mode");
        } catch (IOException | RuntimeException e) {
            return; // the open that follows names the problem
        }
        if ((mode & 0005) == 0) {
            return;
        }
        String open = "composefs store fsck: warning: " + store + " is open to every user (mode "
                + String.format("%04o", mode & 07777) + ")";
        String fix = "; make it private with chmod 0700 " + store;
        if (images.isEmpty()) {
            io.err().println(open + ": its objects are readable whatever the modes of the files they hold" + fix);
            return;
        }
        List<String> exposed = StoreMaintenance.privateFilesStored(store, trees);
        if (!exposed.isEmpty()) {
            io.err().println(open + " and holds " + exposed.size() + " file" + (exposed.size() == 1 ? "" : "s")
                    + " of the images that not every user may read (" + exposed.get(0)
                    + (exposed.size() > 1 ? ", ..." : "") + "), readable there by all" + fix);
        }
    }

    /** The images named, read whole; failure names the image and adds suffix. */
    private List<Directory> readImages(String suffix) throws Failure {
        List<Directory> trees = new ArrayList<>();
        for (Path image : images) {
            try {
                trees.add(ErofsReader.read(image)); // all must read: never act on a partial set
            } catch (NoSuchFileException e) {
                throw new Failure(1, image + ": no such file" + suffix);
            } catch (IOException e) {
                throw new Failure(1, e.getMessage() + suffix, e);
            }
        }
        return trees;
    }

    private int gc() throws Failure, IOException {
        if (images.isEmpty()) {
            throw new Failure(1, "gc needs at least one IMAGE whose objects are kept "
                    + "(to empty a store, remove it)");
        }
        List<Directory> trees = readImages("; nothing was removed");
        // What the kernel driver mounts for each image is kept too: its cached descriptor, and the
        // objects its inline files became (the driver's tree holds every payload of the image's).
        List<Directory> kept = new ArrayList<>();
        Set<String> descriptors = new HashSet<>();
        for (Directory tree : trees) {
            try {
                DriverImage d = DriverImage.of(tree);
                kept.add(d.tree());
                descriptors.add(d.name());
            } catch (TreeException e) {
                kept.add(tree); // no descriptor form: nothing cached for it
            }
        }
        PrintStream out = out();
        try (ObjectStore s = open(ObjectStore.Lock.EXCLUSIVE)) {
            var report = StoreMaintenance.gc(s, kept, descriptors, dryRun, progress(), out::println);
            out.println((dryRun ? "would remove " : "removed ") + report.removed().size() + " objects, "
                    + (dryRun ? "freeing " : "freed ") + report.bytesFreed() + " bytes ("
                    + Progress.bytes(report.bytesFreed()) + "); " + report.kept() + " objects kept");
            Main.checkWritten(out);
            return 0;
        }
    }

    private ObjectStore open(ObjectStore.Lock lock) throws IOException {
        return ObjectStore.open(store, false, lock, w -> io.err().println("composefs store: warning: " + w));
    }

    private Progress progress() {
        return new Progress(io.err(), unistd_h.isatty(2));
    }

    private PrintStream out() {
        return new PrintStream(io.out(), false, StandardCharsets.UTF_8);
    }
}
