package dev.composefs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mount.composefs's arguments and exit codes, as mount(8) uses them: 1 usage, 32 mount failure. -f mounts nothing. */
class MountComposefsTest {
    @TempDir
    Path tmp;

    /** A small image and its store, made by mkcomposefs in-process. */
    private Path image() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/d"));
        Files.writeString(src.resolve("inline"), "hello");
        Files.write(src.resolve("stored"), new byte[9000]);
        Path image = tmp.resolve("i.cfs");
        Run r = Run.of("mkcomposefs", "--digest-store=" + tmp.resolve("store"), tmp.resolve("src").toString(), image.toString());
        assertEquals(0, r.exit(), r.err());
        Files.createDirectories(tmp.resolve("mnt"));
        return image;
    }

    @Test
    void usageErrorsExit1WithOneLineAndThePointerToHelp() {
        Run none = Run.of("mount.composefs");
        assertEquals(1, none.exit());
        assertTrue(none.saysOnly("mount.composefs: IMAGE and TARGET are required"), none.err());
        Run flag = Run.of("mount.composefs", "-x", "a", "b");
        assertEquals(1, flag.exit());
        assertTrue(flag.saysOnly("mount.composefs: unknown option '-x'"), flag.err());
        Run three = Run.of("mount.composefs", "a", "b", "c");
        assertEquals(1, three.exit());
        assertTrue(three.err().startsWith("mount.composefs: too many operands"), three.err());
    }

    @Test
    void anUnsupportedOptionIsRefusedUnlessSloppy() throws Exception {
        Path image = image();
        String opts = "basedir=" + tmp.resolve("store") + ",bogus";
        Run strict = Run.of("mount.composefs", "-f", image.toString(), tmp.resolve("mnt").toString(), "-o", opts);
        assertEquals(1, strict.exit(), strict.err());
        assertTrue(strict.err().contains("unsupported option 'bogus'"), strict.err());
        Run sloppy = Run.of("mount.composefs", "-s", "-f", image.toString(), tmp.resolve("mnt").toString(), "-o", opts);
        assertEquals(0, sloppy.exit(), sloppy.err());
        assertTrue(sloppy.err().contains("ignoring unsupported option 'bogus' (-s)"), sloppy.err());
    }

    @Test
    void fakeChecksEverythingButMountsNothing() throws Exception {
        Path image = image();
        Path mnt = tmp.resolve("mnt");
        Run ok = Run.of("mount.composefs", "-f", "-v", image.toString(), mnt.toString(), "-o", "basedir=" + tmp.resolve("store"));
        assertEquals(0, ok.exit(), ok.err());
        assertTrue(ok.err().contains("checked, not mounted"), ok.err());
        assertTrue(Files.readString(Path.of("/proc/self/mountinfo")).indexOf(" " + mnt + " ") < 0, "nothing mounted");
        // what a mount would fail on fails -f the same way, with mount(8)'s 32
        Run missing = Run.of("mount.composefs", "-f", tmp.resolve("none.cfs").toString(), mnt.toString(),
                "-o", "basedir=" + tmp.resolve("store"));
        assertEquals(32, missing.exit(), missing.err());
        assertEquals(1, missing.err().lines().count(), missing.err());
        assertTrue(missing.err().contains(tmp.resolve("none.cfs").toString()), missing.err());
        Run noStore = Run.of("mount.composefs", "-f", image.toString(), mnt.toString(), "-o", "basedir=" + tmp.resolve("nostore"));
        assertEquals(32, noStore.exit(), noStore.err());
        Run wrongDigest = Run.of("mount.composefs", "-f", image.toString(), mnt.toString(),
                "-o", "basedir=" + tmp.resolve("store") + ",digest=" + "0".repeat(64));
        assertEquals(32, wrongDigest.exit(), wrongDigest.err());
        assertTrue(wrongDigest.err().contains("digest"), wrongDigest.err());
    }
}
