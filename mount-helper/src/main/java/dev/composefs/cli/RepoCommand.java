package dev.composefs.cli;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.fsverity.DigestingOutputStream;
import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.mount.KernelProbe;
import dev.composefs.core.mount.MountException;
import dev.composefs.core.mount.MountOptions;
import dev.composefs.core.mount.Mounter;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.repository.Repository;
import dev.composefs.core.repository.RepositoryMaintenance;
import dev.composefs.core.scan.DirectoryScanner;
import dev.composefs.core.scan.ScanOptions;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.util.Progress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * composefs repo: a repository of named images (composefs-rs's layout), whose gc needs no list
 * of images: the names are its roots.
 */
@Command(name = "repo", mixinStandardHelpOptions = true, versionProvider = Version.class,
        subcommands = {RepoCommand.Init.class, RepoCommand.Add.class, RepoCommand.ListNames.class, RepoCommand.Tag.class,
            RepoCommand.Untag.class, RepoCommand.Gc.class, RepoCommand.Fsck.class, RepoCommand.Mount.class},
        description = {"A repository of named images: REPO/objects (file contents and images by fs-verity digest), "
                + "REPO/images/DIGEST (the images made here) and REPO/images/refs/NAME (their names), as composefs-rs "
                + "lays it out. gc keeps what the names reach and removes the rest; writers and gc exclude each other."})
final class RepoCommand implements Callable<Integer> {
    final Main.Io io;

    RepoCommand(Main.Io io) {
        this.io = io;
    }

    @Override
    public Integer call() {
        io.err().println("composefs repo: expected init, add, list, tag, untag, gc, fsck or mount (see composefs repo --help)");
        return 1;
    }

    PrintStream out() {
        return new PrintStream(io.out(), false, StandardCharsets.UTF_8);
    }

    void warn(String name, String w) {
        io.err().println("composefs repo " + name + ": warning: " + w);
    }

    /** What every subcommand has: the repository, and its failures as one line naming it. */
    abstract static class Sub implements Callable<Integer> {
        @ParentCommand
        RepoCommand parent;

        @Parameters(index = "0", paramLabel = "REPO")
        Path repo;

        @Spec
        CommandSpec spec;

        abstract int run() throws IOException, Failure, MountException;

        @Override
        public Integer call() {
            String prog = "composefs repo " + spec.name() + ": ";
            try {
                return run();
            } catch (Failure f) {
                Main.report(parent.io, prog + f.getMessage(), f);
                return f.exitCode();
            } catch (MountException e) {
                Main.report(parent.io, prog + e.getMessage(), e);
                return e.isUsage() ? 1 : 32;
            } catch (IOException e) { // TreeException too: a tree the image cannot hold
                Main.report(parent.io, prog + e.getMessage(), e);
                return 1;
            }
        }
    }

    @Command(name = "init", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Make a repository at REPO (private: mode 0700), or check the one there.")
    static final class Init extends Sub {
        @Override
        int run() throws IOException, Failure, MountException {
            boolean made = Repository.init(repo);
            PrintStream out = parent.out();
            out.println(made ? "made repository " + repo : repo + " is a repository already");
            Main.checkWritten(out);
            return 0;
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Ingest SOURCEDIR into REPO, as mkcomposefs --digest-store does, store its image as an object, "
                + "and name it NAME (a path: it may contain '/'). Prints the image's fs-verity digest, last."})
    static final class Add extends Sub {
        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Parameters(index = "2", paramLabel = "SOURCEDIR")
        Path source;

        @Mixin
        TreeOptions tree;

        @Option(names = "--skip-devices", description = "no device nodes")
        boolean skipDevices;

        @Option(names = "--hardlinks", description = "keep hardlinks (changes the digest against upstream's)")
        boolean hardlinks;

        @Option(names = "--threads", paramLabel = "N", description = "threads (default: number of processors)")
        Integer threads;

        @Override
        int run() throws IOException, Failure, MountException {
            Repository.checkName(name);
            ScanOptions scan;
            ErofsWriter.Options format;
            try {
                scan = new ScanOptions(tree.useEpoch, skipDevices, tree.skipXattrs, tree.userXattrs, hardlinks,
                        threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                        ScanOptions.UPSTREAM_INLINE_LIMIT);
                format = tree.format();
            } catch (IllegalArgumentException e) {
                throw new Failure(1, e.getMessage(), e);
            }
            byte[] digest;
            try (Repository r = Repository.open(repo, Repository.Access.WRITE);
                    ObjectStore store = r.store(ObjectStore.Lock.SHARED, w -> parent.warn("add", w))) {
                Directory root = DirectoryScanner.ingest(source, scan, store,
                        new Progress(parent.io.err(), unistd_h.isatty(2)));
                FsVerity verity = new FsVerity();
                ByteArrayOutputStream image = new ByteArrayOutputStream();
                ErofsWriter.write(root, format, new DigestingOutputStream(image, verity));
                digest = verity.digest();
                r.addImage(store, image.toByteArray(), digest);
                r.setRef(name, digest);
            }
            PrintStream out = parent.out();
            out.println(FsVerity.hex(digest));
            Main.checkWritten(out);
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "A line per name: NAME DIGEST.")
    static final class ListNames extends Sub {
        @Override
        int run() throws IOException, Failure, MountException {
            PrintStream out = parent.out();
            try (Repository r = Repository.open(repo, Repository.Access.READ)) {
                RepositoryMaintenance.list(r).forEach(out::println);
            }
            Main.checkWritten(out);
            return 0;
        }
    }

    @Command(name = "tag", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Name NEWNAME the image that NAME or DIGEST is.")
    static final class Tag extends Sub {
        @Parameters(index = "1", paramLabel = "NAME|DIGEST")
        String image;

        @Parameters(index = "2", paramLabel = "NEWNAME")
        String newName;

        @Override
        int run() throws IOException, Failure, MountException {
            Repository.checkName(newName);
            try (Repository r = Repository.open(repo, Repository.Access.WRITE)) {
                r.setRef(newName, r.resolve(image));
            }
            return 0;
        }
    }

    @Command(name = "untag", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Remove the name NAME (the image stays until gc finds no name for it).")
    static final class Untag extends Sub {
        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Override
        int run() throws IOException, Failure, MountException {
            try (Repository r = Repository.open(repo, Repository.Access.WRITE)) {
                if (!r.removeRef(name)) {
                    throw new Failure(1, repo + ": no image named " + name);
                }
            }
            return 0;
        }
    }

    @Command(name = "gc", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = "Remove the images no name links to, and every object no named image uses; waits for writers.")
    static final class Gc extends Sub {
        @Option(names = "--dry-run", description = "say what would be removed, remove nothing")
        boolean dryRun;

        @Override
        int run() throws IOException, Failure, MountException {
            PrintStream out = parent.out();
            try (Repository r = Repository.open(repo, dryRun ? Repository.Access.READ : Repository.Access.EXCLUSIVE)) {
                var result = RepositoryMaintenance.gc(r, dryRun, new Progress(parent.io.err(), unistd_h.isatty(2)),
                        out::println);
                out.println((dryRun ? "would remove " : "removed ") + result.images().size() + " images, "
                        + result.objects().removed().size() + " objects (" + Progress.bytes(result.objects().bytesFreed())
                        + " freed); " + result.objects().kept() + " objects kept");
            }
            Main.checkWritten(out);
            return 0;
        }
    }

    @Command(name = "fsck", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Check every object against its name, every image's links and objects, every name's image. "
                + "Exit 1 if anything is damaged."})
    static final class Fsck extends Sub {
        @Option(names = "--json", description = "one JSON document: {\"objects\", \"bytes\", \"problems\": [{kind, path, detail}], \"ok\"}")
        boolean json;

        @Option(names = "--threads", paramLabel = "N", description = "threads (default: number of processors)")
        Integer threads;

        @Override
        int run() throws IOException, Failure, MountException {
            PrintStream out = parent.out();
            RepositoryMaintenance.FsckResult result;
            try (Repository r = Repository.open(repo, Repository.Access.READ)) {
                result = RepositoryMaintenance.fsck(r, threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                        new Progress(parent.io.err(), !json && unistd_h.isatty(2)), json ? l -> { } : out::println);
            }
            if (json) {
                List<Map<String, Object>> problems = new ArrayList<>();
                for (var p : result.problems()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("kind", p.kind());
                    m.put("path", p.path());
                    m.put("detail", p.detail());
                    problems.add(m);
                }
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("objects", result.objects());
                doc.put("bytes", result.bytes());
                doc.put("problems", problems);
                doc.put("ok", problems.isEmpty());
                out.println(JSON.std.asString(doc));
            } else {
                result.problems().forEach(p -> out.println("ERROR " + p.kind() + " " + p.path() + ": " + p.detail()));
                out.println(result.objects() + " objects checked (" + Progress.bytes(result.bytes()) + "), "
                        + result.problems().size() + " problems");
            }
            Main.checkWritten(out);
            return result.problems().isEmpty() ? 0 : 1;
        }
    }

    @Command(name = "mount", mixinStandardHelpOptions = true, versionProvider = Version.class,
            description = {"Mount the image NAME names, or the image DIGEST is (then the digest is enforced, as digest=), "
                + "at TARGET, with REPO/objects as the store. The same as mount -t composefs REPO/images/refs/NAME "
                + "TARGET -o basedir=REPO/objects."})
    static final class Mount extends Sub {
        @Parameters(index = "1", paramLabel = "NAME|DIGEST")
        String image;

        @Parameters(index = "2", paramLabel = "TARGET")
        Path target;

        @Option(names = {"-o", "--options"}, paramLabel = "OPTIONS", description = "further mount options, as mount.composefs takes them")
        List<String> options = new ArrayList<>();

        @Override
        int run() throws IOException, Failure, MountException {
            Path imagePath;
            List<String> opts = new ArrayList<>();
            try (Repository r = Repository.open(repo, Repository.Access.READ)) {
                byte[] digest = r.resolve(image);
                imagePath = r.image(digest);
                opts.add("basedir=" + MountOptions.escape(r.objects().toAbsolutePath().toString(), ":"));
                if (Repository.hex(image) != null) {
                    opts.add("digest=" + FsVerity.hex(digest));
                }
            }
            opts.addAll(options);
            MountOptions o = MountOptions.parse(opts, MountOptions.UnknownOption.REFUSE);
            new Mounter(KernelProbe.running(), s -> { }).mount(imagePath, target, o);
            return 0;
        }
    }
}
