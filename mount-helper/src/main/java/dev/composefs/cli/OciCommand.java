package dev.composefs.cli;

import dev.composefs.bindings.unistd_h;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.fsverity.DigestingOutputStream;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.oci.ImageSource;
import dev.composefs.core.oci.OciImport;
import dev.composefs.core.oci.Platform;
import dev.composefs.core.oci.ResolvedImage;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.repository.Repository;
import dev.composefs.core.tree.TreeException;
import dev.composefs.core.util.AtomicFile;
import dev.composefs.core.util.Progress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** composefs oci import|pull: container images into the object store and a composefs image. */
@Command(name = "oci", mixinStandardHelpOptions = true, versionProvider = Version.class,
        subcommands = {OciCommand.Import.class, OciCommand.Pull.class},
        description = {"Container images as composefs images: every file over 64 bytes goes into the object store "
                + "by fs-verity digest (stored once, whatever image it came in), the image's merged tree becomes "
                + "an EROFS image like mkcomposefs writes."})
final class OciCommand implements Callable<Integer> {
    final Main.Io io;

    OciCommand(Main.Io io) {
        this.io = io;
    }

    @Override
    public Integer call() {
        io.err().println("composefs oci: expected 'import' or 'pull' (see composefs oci --help)");
        return 1;
    }

    /** What both subcommands take: the store, mkcomposefs' tree and format options, the output. */
    static final class Build {
        @Option(names = "--store", paramLabel = "STORE", description = "object store (created if missing); with IMAGE")
        Path store;

        @Option(names = "--repo", paramLabel = "REPO", description = "a repository (composefs repo init) instead of "
                + "--store and IMAGE: the image is stored there and named")
        Path repo;

        @Option(names = "--name", paramLabel = "NAME", description = "with --repo: the image's name (pull: the "
                + "reference by default)")
        String name;

        @Mixin
        TreeOptions tree;

        @Option(names = "--print-digest", description = "print the image's fs-verity digest")
        boolean printDigest;

        @Option(names = "--threads", paramLabel = "N", description = "layers read at once (default: 4)")
        int threads = 4;

        @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]",
                description = "the image to take from a multi-platform index (default: this machine's)")
        String platform;
    }

    @Command(name = "import", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Import SOURCE, an OCI image layout (oci:DIR[:TAG]) or a docker save archive "
                    + "(docker-archive:FILE[:REPO:TAG]), into STORE and write IMAGE, or into --repo=REPO as --name=NAME.")
    static final class Import implements Callable<Integer> {
        @ParentCommand
        OciCommand parent;

        @Mixin
        Build build;

        @Parameters(index = "0", paramLabel = "SOURCE")
        String source;

        @Parameters(index = "1", arity = "0..1", paramLabel = "IMAGE")
        String image;

        @Override
        public Integer call() {
            return parent.run("composefs oci import", build, image, null, () -> ImageSource.local(source));
        }
    }

    @Command(name = "pull", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Pull REF (REGISTRY/REPO[:TAG|@DIGEST]) from a registry into STORE and write IMAGE, or into "
                    + "--repo=REPO, named REF or --name=NAME. "
                    + "An index is resolved for this platform; every blob is checked against its digest.")
    static final class Pull implements Callable<Integer> {
        @ParentCommand
        OciCommand parent;

        @Mixin
        Build build;

        @Option(names = "--insecure", description = "plain http (a registry on localhost, say), no TLS")
        boolean insecure;

        @Option(names = "--creds", paramLabel = "USER:PASSWORD", description = "registry credentials")
        String creds;

        @Option(names = "--authfile", paramLabel = "FILE",
                description = "containers auth.json (default: the files skopeo and docker read)")
        Path authfile;

        @Parameters(index = "0", paramLabel = "REF")
        String ref;

        @Parameters(index = "1", arity = "0..1", paramLabel = "IMAGE")
        String image;

        @Override
        public Integer call() {
            return parent.run("composefs oci pull", build, image, ref,
                    () -> ImageSource.registry(ref, creds, authfile, insecure));
        }
    }

    private interface Opener {
        ImageSource open() throws IOException;
    }

    /** Imports into --store and IMAGE, or into --repo as a name (defaultName where --name is not given). */
    int run(String prog, Build b, String image, String defaultName, Opener opener) {
        if ((b.store == null) == (b.repo == null)) {
            io.err().println(prog + ": give --store=STORE and IMAGE, or --repo=REPO");
            return 1;
        }
        if (b.store != null && image == null) {
            io.err().println(prog + ": missing IMAGE (the image file to write into, with --store)");
            return 1;
        }
        if (b.repo != null && image != null) {
            io.err().println(prog + ": with --repo the image goes into the repository: no IMAGE (" + image + ")");
            return 1;
        }
        String name = b.name != null ? b.name : defaultName;
        if (b.repo != null && name == null) {
            io.err().println(prog + ": --repo needs --name=NAME");
            return 1;
        }
        if (b.repo != null) {
            try (Repository r = Repository.open(b.repo, Repository.Access.WRITE)) {
                Repository.checkName(name);
                return run(prog, b, null, r, name, opener);
            } catch (IOException e) {
                Main.report(io, prog + ": " + e.getMessage(), e);
                return 1;
            }
        }
        return run(prog, b, image, null, null, opener);
    }

    private int run(String prog, Build b, String image, Repository repo, String name, Opener opener) {
        try {
            ErofsWriter.Options format;
            OciImport.Options options;
            Platform platform;
            try {
                format = b.tree.format();
                options = new OciImport.Options(b.tree.useEpoch, b.tree.skipXattrs, b.tree.userXattrs, b.threads);
                platform = platform(b.platform);
            } catch (IllegalArgumentException e) {
                Main.report(io, prog + ": " + e.getMessage(), e);
                return 1;
            }
            Progress progress = new Progress(io.err(), unistd_h.isatty(2));
            OciImport.Result result;
            FsVerity verity = new FsVerity();
            byte[] stored = null; // the digest of the image stored in the repository
            try (ImageSource source = opener.open();
                    ObjectStore store = repo != null ? repo.store(ObjectStore.Lock.SHARED, w -> io.err().println(prog
                            + ": warning: " + w)) : ObjectStore.open(b.store, true, ObjectStore.Lock.SHARED,
                            w -> io.err().println(prog + ": warning: " + w))) {
                ResolvedImage resolved = source.resolve(platform);
                // no batch (see ObjectStore.beginBatch): every object is published as it completes,
                // so an interrupted pull keeps what it fetched for the next run, and no temporary name
                result = OciImport.run(resolved, store, options, progress);
                if (repo != null) {
                    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                    ErofsWriter.write(result.root(), format, new DigestingOutputStream(bytes, verity));
                    stored = verity.digest();
                    repo.addImage(store, bytes.toByteArray(), stored);
                    repo.setRef(name, stored);
                }
            } catch (TreeException e) {
                Main.report(io, prog + ": " + e.getMessage(), e);
                return 1;
            }
            if (repo == null) {
                try {
                    AtomicFile.write(image, out -> ErofsWriter.write(result.root(), format,
                            new DigestingOutputStream(out, verity)), io.out());
                } catch (TreeException e) {
                    Main.report(io, prog + ": " + e.getMessage(), e);
                    return 1;
                } catch (IOException e) {
                    Main.report(io, prog + ": " + image + ": cannot write image: " + e.getMessage(), e);
                    return 1;
                }
            }
            io.err().println(prog + ": " + (repo != null ? repo.root() + " " + name : image) + ": " + result.layers() + " layers, " + result.files() + " files; "
                    + result.objectsAdded() + " new objects (" + Progress.bytes(result.bytesAdded()) + "), "
                    + result.objectsShared() + " already in the store (" + Progress.bytes(result.bytesShared())
                    + " shared)");
            if (b.printDigest || repo != null) {
                io.out().write((FsVerity.hex(stored != null ? stored : verity.digest()) + "\n").getBytes(StandardCharsets.US_ASCII));
                io.out().flush();
            }
            return 0;
        } catch (IOException e) {
            Main.report(io, prog + ": " + e.getMessage(), e);
            return 1;
        }
    }

    private static Platform platform(String s) {
        if (s == null) {
            return Platform.current();
        }
        String[] p = s.split("/");
        if (p.length < 2 || p.length > 3 || p[0].isEmpty() || p[1].isEmpty()) {
            throw new IllegalArgumentException("--platform=" + s + ": expected OS/ARCH[/VARIANT]");
        }
        return new Platform(p[0], p[1], p.length == 3 ? p[2] : null);
    }
}
