package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cold ingest writes its objects without an fsync each, flushes them all with one syncfs and
 * only then renames them into place. This test shows that it keeps the guarantee an fsync per
 * object gives: after a power cut at any point, no object is named whose data is not on disk.
 * it-tests/lib/crash-snapshot.sh takes the block device's content as a power cut would leave it
 * (the journal committed every second, nothing flushed), while the ingest is killed at chosen
 * syscalls, and measures every named object with fsverity-utils.
 */
class StoreCrashTest {
    @TempDir
    static Path work;
    @RegisterExtension
    final MountGuard guard = new MountGuard();
    static Path tree;

    static final int FILES = 8000;

    @BeforeAll
    static void setUp() throws Exception {
        MountGuard.assumeMountable();
        for (String tool : new String[] {"strace", "mkfs.ext4", "e2fsck", "fsverity"}) {
            assumeTrue(new ProcessBuilder("sh", "-c", "command -v " + tool).start().waitFor() == 0,
                    tool + " is not installed (bin/lib/install-deps.sh installs it)");
        }
        tree = work.resolve("tree");
        Random r = new Random(8000);
        for (int d = 0; d < 40; d++) {
            Path dir = Files.createDirectories(tree.resolve("d" + d));
            for (int i = 0; i < FILES / 40; i++) {
                byte[] b = new byte[65 + r.nextInt(16000)]; // above the inline limit: every file is an object
                r.nextBytes(b);
                Files.write(dir.resolve("f" + i), b);
            }
        }
    }

    record Snapshot(int named, int bad, String image) {}

    private static Snapshot crash(String kase) throws Exception {
        Path dir = Files.createDirectories(work.resolve(kase.replace(':', '-')));
        String out = SourceTree.sh(Cli.repo().resolve("it-tests/lib/crash-snapshot.sh").toString(), dir.toString(),
                tree.toString(), kase, Cli.repo().resolve("bin/mkcomposefs").toString());
        Matcher m = Pattern.compile("named=(\\d+) bad=(\\d+) image=(\\S+)\\s*$").matcher(out);
        assertTrue(m.find(), out);
        return new Snapshot(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), m.group(3));
    }

    @Test
    void noObjectIsNamedBeforeItsDataIsOnDisk() throws Exception {
        // Without a flush between write and rename, this copy of the device shows renamed files
        // without their data: the simulated power cut loses what a real one would.
        Snapshot control = crash("control");
        assumeTrue(control.bad() > 0, "this kernel wrote the control's data before its renames (" + control
                + "): the snapshot cannot show lost data here");

        Snapshot beforeFlush = crash("syncfs");
        assertEquals(new Snapshot(0, 0, "-"), beforeFlush, "killed at its flush: nothing may be named yet");

        for (String kase : new String[] {"rename:100", "rename:1500"}) {
            Snapshot s = crash(kase);
            assertTrue(s.named() > 0 && s.named() < FILES, kase + ": killed among the renames, some named: " + s);
            assertEquals(0, s.bad(), kase + ": every named object holds the data its name is the digest of");
        }

        Snapshot done = crash("done");
        assertEquals(new Snapshot(FILES, 0, "same"), done,
                "a finished ingest: every object named and intact, the image as written");
    }
}
