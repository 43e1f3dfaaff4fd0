package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorWriter;
import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.fsverity.DigestingOutputStream;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.scan.DirectoryScanner;
import dev.composefs.core.scan.ScanOptions;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.TreeException;
import dev.composefs.core.sign.ImageSignature;
import dev.composefs.core.sign.KeyMaterial;
import dev.composefs.core.util.AtomicFile;
import dev.composefs.core.util.Progress;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * mkcomposefs: build a composefs image, with upstream's options and output. Arguments are parsed
 * by hand (getopt_long's conventions: --opt=VALUE or --opt VALUE, options and operands in any
 * order, -- ends options): picocli's reflective set-up would be a large part of a run, which
 * podman makes once per layer it pulls.
 */
final class MkComposefs {
    private static final String PROG = "mkcomposefs";
    static final String USAGE = """
            Usage: mkcomposefs [OPTIONS] SOURCE IMAGE
                   mkcomposefs [OPTIONS] --print-digest-only SOURCE
            Build a composefs image from a directory tree (SOURCE) or a composefs-dump(5) file
            (--from-file SOURCE, '-' for stdin). IMAGE '-' writes to stdout.
              --from-file             SOURCE is a composefs-dump(5) file
              --min-version=V         lowest format version to write (default 0)
              --max-version=V         highest format version to use when needed (default 1;
                                      0 if only --min-version is given)
              --print-digest          print the image's fs-verity digest
              --print-digest-only     only print the digest; no IMAGE is written
              --strict                parse the dump strictly (as with CFS_PARSE_STRICT set)
              --digest-store=PATH     store content files in this directory
              --use-epoch             make all mtimes zero
              --skip-devices          don't store device nodes
              --skip-xattrs           don't store file xattrs
              --user-xattrs           only store user.* xattrs
              --threads=N             threads computing digests and copying files (default:
                                      number of processors; at most 256)
              --format=FORMAT         erofs (default): the composefs image upstream writes;
                                      descriptor: the kernel composefs driver's descriptor (no
                                      inline content: every non-empty file is a backing file)
              --hardlinks             keep hardlinks (grouped by device and inode); upstream
                                      gives every name its own inode, so this changes the digest
              --sign-key=KEY --sign-cert=CERT
                                      also write IMAGE.sig, the fs-verity signature of the image
                                      (as composefs sign / fsverity sign write it)
              -h, --help              this text;  -V, --version   version
            Dump parsing is lenient like upstream's unless CFS_PARSE_STRICT is set (to anything) or --strict
            is given.
            """;

    private final Main.Io io;

    MkComposefs(Main.Io io) {
        this.io = io;
    }

    private boolean fromFile;
    private Integer minVersion;
    private Integer maxVersion;
    private boolean printDigest;
    private Path signKey;
    private Path signCert;
    private boolean printDigestOnly;
    private boolean strict;
    private Path digestStore;
    private boolean useEpoch;
    private boolean skipDevices;
    private boolean skipXattrs;
    private boolean userXattrs;
    private Integer threads;
    private String format = "erofs";
    private boolean hardlinks;
    private String source;
    private String image;

    /** Parses the arguments and builds; the exit code. */
    int run(String[] args) {
        try {
            if (!parse(args)) {
                return 0; // --help or --version
            }
        } catch (Failure f) {
            Main.report(io, PROG + ": " + f.getMessage(), f);
            io.err().println("Try '" + PROG + " --help' for more information.");
            return f.exitCode();
        } catch (IOException e) {
            Main.report(io, PROG + ": cannot write output: " + e.getMessage(), e);
            return 1;
        }
        try {
            return build();
        } catch (Failure f) {
            Main.report(io, PROG + ": " + f.getMessage(), f);
            return f.exitCode();
        }
    }

    /** Every option, and whether it takes a value. */
    private static final Map<String, Boolean> OPTIONS = Map.ofEntries(Map.entry("-h", false), Map.entry("--help", false),
            Map.entry("-V", false), Map.entry("--version", false), Map.entry("--from-file", false),
            Map.entry("--min-version", true), Map.entry("--max-version", true), Map.entry("--print-digest", false),
            Map.entry("--print-digest-only", false), Map.entry("--strict", false), Map.entry("--digest-store", true),
            Map.entry("--use-epoch", false), Map.entry("--skip-devices", false), Map.entry("--skip-xattrs", false),
            Map.entry("--user-xattrs", false), Map.entry("--threads", true), Map.entry("--format", true),
            Map.entry("--hardlinks", false), Map.entry("--sign-key", true), Map.entry("--sign-cert", true));

    /** Sets the fields from the arguments; false when --help or --version was answered instead. */
    private boolean parse(String[] args) throws Failure, IOException {
        Getopt.Parsed parsed = Getopt.parse(args, OPTIONS);
        for (Getopt.Opt o : parsed.options()) {
            String value = o.value();
            switch (o.name()) {
                case "-h", "--help" -> {
                    io.out().write(USAGE.getBytes(StandardCharsets.UTF_8));
                    return false;
                }
                case "-V", "--version" -> {
                    io.out().write((String.join("\n", Version.lines(PROG)) + "\n").getBytes(StandardCharsets.UTF_8));
                    return false;
                }
                case "--from-file" -> fromFile = true;
                case "--min-version" -> minVersion = number(o.name(), value);
                case "--max-version" -> maxVersion = number(o.name(), value);
                case "--print-digest" -> printDigest = true;
                case "--print-digest-only" -> printDigestOnly = true;
                case "--strict" -> strict = true;
                case "--digest-store" -> digestStore = Path.of(value);
                case "--use-epoch" -> useEpoch = true;
                case "--skip-devices" -> skipDevices = true;
                case "--skip-xattrs" -> skipXattrs = true;
                case "--user-xattrs" -> userXattrs = true;
                case "--threads" -> threads = number(o.name(), value);
                case "--format" -> format = value;
                case "--hardlinks" -> hardlinks = true;
                case "--sign-key" -> signKey = Path.of(value);
                case "--sign-cert" -> signCert = Path.of(value);
                default -> throw new IllegalStateException("option " + o.name() + " in OPTIONS but not handled");
            }
        }
        List<String> operands = parsed.operands();
        if (operands.isEmpty() || operands.size() > 2) {
            throw new Failure(1, operands.isEmpty() ? "missing SOURCE argument" : "too many arguments: " + operands);
        }
        source = operands.get(0);
        image = operands.size() > 1 ? operands.get(1) : null;
        return true;
    }

    private static int number(String name, String value) throws Failure {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new Failure(1, name + "=" + value + ": not a number");
        }
    }

    private Directory readDump() throws Failure {
        if (digestStore != null || useEpoch || skipDevices || skipXattrs || userXattrs || hardlinks || threads != null) {
            throw new Failure(1, "--digest-store, --use-epoch, --skip-devices, --skip-xattrs, --user-xattrs, "
                    + "--threads and --hardlinks apply to a SOURCE directory, not to --from-file");
        }
        // upstream's test: set at all, even to 0
        boolean strictParse = strict || System.getenv("CFS_PARSE_STRICT") != null;
        try (InputStream in = source.equals("-") ? io.in() : Files.newInputStream(Path.of(source))) {
            return DumpReader.read(in, strictParse);
        } catch (NoSuchFileException e) {
            throw new Failure(1, source + ": no such file");
        } catch (IOException e) {
            throw new Failure(1, sourceName() + ": " + e.getMessage(), e);
        }
    }

    private Directory scanDirectory() throws Failure {
        ScanOptions options;
        try {
            options = new ScanOptions(useEpoch, skipDevices, skipXattrs, userXattrs, hardlinks,
                    threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                    descriptor() ? 0 : ScanOptions.UPSTREAM_INLINE_LIMIT);
        } catch (IllegalArgumentException e) {
            throw new Failure(1, e.getMessage(), e);
        }
        Progress progress = new Progress(io.err(), unistd_h.isatty(2));
        ObjectStore store = null;
        try {
            if (digestStore != null) {
                store = ObjectStore.open(digestStore, true, ObjectStore.Lock.SHARED,
                        w -> io.err().println("mkcomposefs: warning: " + w));
            }
            return DirectoryScanner.ingest(Path.of(source), options, store, progress);
        } catch (IOException e) {
            throw new Failure(1, e.getMessage(), e);
        } finally {
            if (store != null) {
                store.close();
            }
        }
    }

    /** SOURCE as messages name it. */
    private String sourceName() {
        return source.equals("-") ? "stdin" : source;
    }

    private boolean descriptor() {
        return format.equals("descriptor");
    }

    private int build() throws Failure {
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
        ErofsWriter.Options options;
        try {
            options = ErofsWriter.Options.of(minVersion, maxVersion);
        } catch (IllegalArgumentException e) {
            throw new Failure(1, "--min-version/--max-version: " + e.getMessage(), e);
        }
        if (source.isEmpty()) {
            throw new Failure(1, "empty SOURCE path");
        }
        if (image != null && image.isEmpty()) {
            throw new Failure(1, "empty IMAGE path"); // upstream's fopen("") fails with ENOENT
        }
        // the key and certificate are read first: a bad one must not cost a build
        PrivateKey key = null;
        X509Certificate cert = null;
        if (signKey != null || signCert != null) {
            if (signKey == null || signCert == null) {
                throw new Failure(1, "--sign-key and --sign-cert go together");
            }
            if (printDigestOnly || AtomicFile.isStream(image)) {
                throw new Failure(1, "--sign-key writes IMAGE.sig beside IMAGE: it needs an IMAGE file");
            }
            try {
                key = KeyMaterial.privateKey(signKey);
                cert = KeyMaterial.certificate(signCert);
            } catch (IOException e) {
                throw new Failure(1, e.getMessage(), e);
            }
        }
        Directory root = fromFile ? readDump() : scanDirectory();
        // The image streams out as it is laid out (its fs-verity digest taken on the way), so it
        // is never whole in memory; every problem with the tree is found before its first byte.
        AtomicFile.Content content;
        if (descriptor()) {
            byte[] bytes;
            try {
                bytes = DescriptorWriter.write(root);
            } catch (IOException e) {
                throw new Failure(1, sourceName() + ": " + e.getMessage(), e);
            }
            content = AtomicFile.of(bytes);
        } else {
            content = out -> ErofsWriter.write(root, options, out);
        }
        FsVerity verity = printDigest || printDigestOnly || key != null ? new FsVerity() : null;
        try {
            if (printDigestOnly) {
                content.writeTo(new DigestingOutputStream(OutputStream.nullOutputStream(), verity));
            } else {
                AtomicFile.write(image, out -> content.writeTo(verity == null ? out : new DigestingOutputStream(out, verity)), io.out());
            }
        } catch (TreeException e) {
            throw new Failure(1, sourceName() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new Failure(1, image + ": cannot write image: " + e.getMessage(), e);
        }
        byte[] digest = verity == null ? null : verity.digest(); // one digest for the print and the signature
        if (key != null) {
            Path sig = Path.of(image + ".sig");
            try {
                AtomicFile.write(sig, ImageSignature.sign(key, cert, FsVerity.Alg.SHA256, digest));
            } catch (IOException e) {
                throw new Failure(1, sig + ": cannot write the signature: " + e.getMessage(), e);
            }
        }
        if (printDigest || printDigestOnly) {
            try {
                io.out().write((FsVerity.hex(digest) + "\n").getBytes(StandardCharsets.US_ASCII));
                io.out().flush();
            } catch (IOException e) {
                throw new Failure(1, "cannot write digest: " + e.getMessage(), e);
            }
        }
        return 0;
    }
}
