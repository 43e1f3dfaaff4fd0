package dev.composefs.it;


import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * /sbin/mount.composefs set, for one test, to the helper of the tree the build lays out
 * (packaging/target/stage), so that mount(8) runs it; on close the host's own (an installed
 * package's, or none) is back in place. Only where root may run that tree: the checkout's own
 * launcher refuses one that another user can change, and so does this.
 */
final class HostHelper implements AutoCloseable {
    static final Path HELPER = Path.of("/sbin/mount.composefs");

    private final Path saved;

    private HostHelper(Path saved) {
        this.saved = saved;
    }

    static HostHelper install() throws Exception {
        Cli.Result check = Cli.run("mount.composefs", "--version");
        Infra.require(check.exit() == 0, "the checkout's mount.composefs does not run as this user: " + check.stderr());
        Path stage = Cli.repo().resolve("packaging/target/stage/sbin/mount.composefs");
        Path saved = null;
        if (Files.exists(HELPER, LinkOption.NOFOLLOW_LINKS)) {
            saved = HELPER.resolveSibling(".mount.composefs.saved-by-tests");
            Files.move(HELPER, saved, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            Files.createSymbolicLink(HELPER, stage);
        } catch (IOException e) {
            if (saved != null) {
                Files.move(saved, HELPER, StandardCopyOption.ATOMIC_MOVE);
            }
            throw e;
        }
        return new HostHelper(saved);
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(HELPER);
        if (saved != null) {
            Files.move(saved, HELPER, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
