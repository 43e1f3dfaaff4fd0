package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorWriter;
import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.scan.DirectoryScanner;
import dev.composefs.core.scan.ScanOptions;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.util.AtomicFile;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** mkcomposefs: build a composefs image, with upstream's options and output. */
@Command(name = "mkcomposefs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Build a composefs image from a directory tree (SOURCE IMAGE) or a composefs-dump(5) file "
                + "(--from-file).",
        footer = "Dump parsing is lenient like upstream's unless CFS_PARSE_STRICT=1 is set or --strict is given.")
final class MkComposefs implements Callable<Integer> {
    private final Main.Io io;

    MkComposefs(Main.Io io) {
        this.io = io;
    }

    @Option(names = "--from-file", description = "SOURCE is a composefs-dump(5) file ('-' for stdin)")
    boolean fromFile;

    @Option(names = "--min-version", paramLabel = "V", description = "lowest format version to write (default 0)")
    Integer minVersion;

    @Option(names = "--max-version", paramLabel = "V",
            description = "highest format version to use when needed (default 1; 0 if only --min-version is given)")
    Integer maxVersion;

    @Option(names = "--print-digest", description = "print the image's fs-verity digest")
    boolean printDigest;

    @Option(names = "--print-digest-only", description = "only print the digest; no IMAGE is written")
    boolean printDigestOnly;

    @Option(names = "--strict", description = "parse the dump strictly (as with CFS_PARSE_STRICT=1)")
    boolean strict;

    @Option(names = "--digest-store", paramLabel = "PATH", description = "store content files in this directory")
    Path digestStore;

    @Option(names = "--use-epoch", description = "make all mtimes zero")
    boolean useEpoch;

    @Option(names = "--skip-devices", description = "don't store device nodes")
    boolean skipDevices;

    @Option(names = "--skip-xattrs", description = "don't store file xattrs")
    boolean skipXattrs;

    @Option(names = "--user-xattrs", description = "only store user.* xattrs")
    boolean userXattrs;

    @Option(names = "--threads", paramLabel = "N",
            description = "threads computing digests and copying files (default: number of processors)")
    Integer threads;

    @Option(names = "--format", paramLabel = "FORMAT", description = "erofs (default): the composefs image upstream "
            + "writes; descriptor: the kernel composefs driver's descriptor (no inline content: every non-empty file "
            + "is a backing file)")
    String format = "erofs";

    @Option(names = "--hardlinks", description = "keep hardlinks (grouped by device and inode); upstream gives "
            + "every name its own inode, so this changes the digest")
    boolean hardlinks;

    @Parameters(index = "0", paramLabel = "SOURCE")
    String source;

    @Parameters(index = "1", arity = "0..1", paramLabel = "IMAGE", description = "output file, '-' for stdout")
    String image;

    @Override
    public Integer call() {
        try {
            return run();
        } catch (Failure f) {
            io.err().println("mkcomposefs: " + f.getMessage());
            return f.exitCode();
        }
    }

    private Directory readDump() throws Failure {
        if (digestStore != null || useEpoch || skipDevices || skipXattrs || userXattrs || hardlinks || threads != null) {
            throw new Failure(1, "--digest-store, --use-epoch, --skip-devices, --skip-xattrs, --user-xattrs, "
                    + "--threads and --hardlinks apply to a SOURCE directory, not to --from-file");
        }
        boolean strictParse = strict || "1".equals(System.getenv("CFS_PARSE_STRICT"));
        try (InputStream in = source.equals("-") ? io.in() : Files.newInputStream(Path.of(source))) {
            return DumpReader.read(in, strictParse);
        } catch (NoSuchFileException e) {
            throw new Failure(1, source + ": no such file");
        } catch (IOException e) {
            throw new Failure(1, (source.equals("-") ? "stdin" : source) + ": " + e.getMessage());
        }
    }

    private Directory scanDirectory() throws Failure {
        ScanOptions options;
        try {
            options = new ScanOptions(useEpoch, skipDevices, skipXattrs, userXattrs, hardlinks,
                    threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                    descriptor() ? 0 : ScanOptions.UPSTREAM_INLINE_LIMIT);
        } catch (IllegalArgumentException e) {
            throw new Failure(1, e.getMessage());
        }
        Progress progress = new Progress(io.err(), unistd_h.isatty(2));
        ObjectStore store = null;
        try {
            if (digestStore != null) {
                store = ObjectStore.open(digestStore, true, ObjectStore.Lock.SHARED,
                        w -> io.err().println("mkcomposefs: warning: " + w));
            }
            return DirectoryScanner.scan(Path.of(source), options, store, progress).root();
        } catch (IOException e) {
            throw new Failure(1, e.getMessage());
        } finally {
            if (store != null) {
                store.close();
            }
        }
    }

    private boolean descriptor() {
        return format.equals("descriptor");
    }

    private int run() throws Failure {
        if (printDigestOnly && image != null) {
            throw new Failure(1, "--print-digest-only takes no IMAGE argument");
        }
        if (!printDigestOnly && image == null) {
            throw new Failure(1, "missing IMAGE argument (or use --print-digest-only)");
        }
        if (!format.equals("erofs") && !format.equals("descriptor")) {
            throw new Failure(1, "--format=" + format + ": unknown format (expected erofs or descriptor)");
        }
        if (descriptor() && (minVersion != null || maxVersion != null)) {
            throw new Failure(1, "--min-version/--max-version apply to --format=erofs, not to the descriptor");
        }
        int min = minVersion != null ? minVersion : 0;
        int max = maxVersion != null ? maxVersion : (minVersion != null ? 0 : 1);
        ErofsWriter.Options options;
        try {
            options = new ErofsWriter.Options(min, max);
        } catch (IllegalArgumentException e) {
            throw new Failure(1, "--min-version/--max-version: " + e.getMessage());
        }
        if (source.isEmpty()) {
            throw new Failure(1, "empty SOURCE path");
        }
        Directory root = fromFile ? readDump() : scanDirectory();
        byte[] bytes;
        try {
            bytes = descriptor() ? DescriptorWriter.write(root) : ErofsWriter.write(root, options).bytes();
        } catch (IOException e) {
            throw new Failure(1, (source.equals("-") ? "stdin" : source) + ": " + e.getMessage());
        }
        if (!printDigestOnly) {
            try {
                AtomicFile.write(image, bytes, io.out());
            } catch (IOException e) {
                throw new Failure(1, image + ": cannot write image: " + e.getMessage());
            }
        }
        if (printDigest || printDigestOnly) {
            try {
                io.out().write((FsVerity.hex(FsVerity.of(bytes)) + "\n").getBytes(StandardCharsets.US_ASCII));
                io.out().flush();
            } catch (IOException e) {
                throw new Failure(1, "cannot write digest: " + e.getMessage());
            }
        }
        return 0;
    }
}
