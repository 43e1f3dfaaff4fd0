package dev.composefs.core.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.composefs.bindings.Errno;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_fsverity_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.descriptor.DescriptorReader;
import dev.composefs.core.descriptor.DescriptorWriter;
import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.erofs.ErofsReader;
import dev.composefs.core.erofs.ErofsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Strategy selection through an injected kernel probe and a recording syscall layer: where the
 * kernel registers {@code composefs}, the verified image goes to the driver as a descriptor cached
 * in the store (passed as /proc/self/fd/N) with exactly the expected fsconfig calls; what the
 * driver cannot show, and any refusal, falls back to overlayfs and says why; where no driver is
 * registered (this host) the overlay path is taken, within the mount API's length limits.
 */
class MounterStrategyTest {
    private static final String HEX1 = "1e" + "0123456789abcdef".repeat(3) + "0123456789abcd";
    private static final String HEX2 = "2f" + "fedcba9876543210".repeat(3) + "fedcba98765432";
    /** Kernels with the driver (e.g. a patched 6.15) and the same without it. */
    private static final KernelProbe DRIVER = KernelProbe.of("6.15.0-composefs", Set.of("composefs", "erofs", "overlay"));

    @TempDir
    static Path tmp;
    static Path image;
    static Path inlineImage;
    static Path emptyFilesImage;
    static Path storeA;
    static Path storeB;
    static Path target;

    @BeforeAll
    static void images() throws IOException {
        image = write("backed.cfs", """
                / 4096 40755 2 0 0 0 0.0 - - -
                /bin 4096 40755 2 0 0 0 0.0 - - -
                /bin/sh 100000 100755 1 0 0 0 1.5 %s/%s - %s user.x=1
                /lib 4096 40700 2 0 0 0 0.0 - - -
                /lib/libc.so 2000000 100644 1 0 0 0 0.0 %s/%s - %s
                /sh 6 120777 1 0 0 0 0.0 bin/sh - -
                /empty 0 100644 1 0 0 0 0.0 - - -
                """.formatted(HEX1.substring(0, 2), HEX1.substring(2), HEX1, HEX2.substring(0, 2), HEX2.substring(2),
                HEX2));
        inlineImage = write("inline.cfs", """
                / 4096 40755 2 0 0 0 0.0 - - -
                /motd 6 100644 1 0 0 0 0.0 - hello\\n -
                """);
        emptyFilesImage = write("nobacked.cfs", """
                / 4096 40755 2 0 0 0 0.0 - - -
                /empty 0 100644 1 0 0 0 0.0 - - -
                /link 5 120777 1 0 0 0 0.0 empty - -
                """);
        storeA = Files.createDirectories(tmp.resolve("store-a"));
        storeB = Files.createDirectories(tmp.resolve("store-b"));
        target = Files.createDirectories(tmp.resolve("mnt"));
    }

    private static Path write(String name, String dump) throws IOException {
        byte[] img = ErofsWriter.write(DumpReader.parse(dump.getBytes(StandardCharsets.ISO_8859_1), true),
                ErofsWriter.Options.DEFAULT).bytes();
        return Files.write(tmp.resolve(name), img);
    }

    private record Run(Mounter.Result result, RecordingCalls calls, List<String> log) {}

    private static Run mount(KernelProbe kernel, RecordingCalls calls, Path img, String options) throws Exception {
        List<String> log = new ArrayList<>();
        Consumer<String> sink = log::add;
        Mounter.Result r = new Mounter(kernel, sink, calls).mount(img, target, MountOptions.parse(options));
        return new Run(r, calls, log);
    }

    /** The driver's calls; digest null where the descriptor file has no fs-verity (then none is passed). */
    private static List<String> driverCalls(String basedirs, String digest, int verityCheck) {
        List<String> calls = new ArrayList<>(List.of(
                "fsopen composefs 1",
                "fsconfig 1000 FSCONFIG_SET_STRING source /proc/self/fd/<fd>",
                "fsconfig 1000 FSCONFIG_SET_STRING basedir " + basedirs));
        if (digest != null) {
            calls.add("fsconfig 1000 FSCONFIG_SET_STRING digest " + digest);
        }
        calls.addAll(List.of(
                "fsconfig 1000 FSCONFIG_SET_STRING verity_check " + verityCheck,
                "fsconfig 1000 FSCONFIG_CMD_CREATE",
                "fsmount 1000 1 0x1",
                "move_mount 1001 '' AT_FDCWD " + target + " 0x4",
                "close 1001",
                "close 1000"));
        return calls;
    }

    /** The overlay path on a 6.15 kernel: file-backed EROFS as a detached mount under overlayfs. */
    private static List<String> overlayCalls(int first, String... datadirs) {
        int fs = first;
        int erofs = first + 1;
        int ovl = first + 2;
        int ovlMnt = first + 3;
        List<String> c = new ArrayList<>(List.of(
                "fsopen erofs 1",
                "fsconfig " + fs + " FSCONFIG_SET_STRING source /proc/self/fd/<fd>",
                "fsconfig " + fs + " FSCONFIG_SET_FLAG ro",
                "fsconfig " + fs + " FSCONFIG_CMD_CREATE",
                "fsmount " + fs + " 1 0x1",
                "close " + fs,
                "fsopen overlay 1",
                "fsconfig " + ovl + " FSCONFIG_SET_STRING source " + image,
                "fsconfig " + ovl + " FSCONFIG_SET_STRING metacopy on",
                "fsconfig " + ovl + " FSCONFIG_SET_STRING redirect_dir on",
                "fsconfig " + ovl + " FSCONFIG_SET_STRING lowerdir+ /proc/self/fd/" + erofs));
        for (String d : datadirs) {
            c.add("fsconfig " + ovl + " FSCONFIG_SET_STRING datadir+ " + d);
        }
        c.addAll(List.of("fsconfig " + ovl + " FSCONFIG_CMD_CREATE", "fsmount " + ovl + " 1 0x1",
                "move_mount " + ovlMnt + " '' AT_FDCWD " + target + " 0x4", "close " + ovlMnt, "close " + ovl,
                "close " + erofs));
        return c;
    }

    private static String fsverityDigest(byte[] data) throws Exception {
        Path f = Files.write(Files.createTempFile(tmp, "digest", ".bin"), data);
        Process p = new ProcessBuilder("fsverity", "digest", "--compact", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** Whether files written under dir get fs-verity (then the driver is given digest=). */
    private static boolean sealedIn(Path file) throws Exception {
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, file.toString(), fcntl_h.O_RDONLY, 0);
        try {
            linux_fsverity_h.measureVerity(fd, file.toString());
            return true;
        } catch (SyscallException e) {
            return false;
        } finally {
            unistd_h.closeQuietly(fd);
        }
    }

    @Test
    void driverMountsTheDescriptorCachedInTheStore() throws Exception {
        Path store = Files.createDirectories(tmp.resolve("cache-store"));
        Run run = mount(DRIVER, new RecordingCalls(), image, "basedir=" + store + ":" + storeB);
        RecordingCalls c = run.calls();
        assertEquals(1, c.sources.size());
        byte[] descriptor = c.sources.get(0);
        String digest = fsverityDigest(descriptor);
        Path cached = store.resolve("descriptors").resolve(digest);
        assertArrayEquals(descriptor, Files.readAllBytes(cached), "the kernel reads the file cached under its digest");
        assertArrayEquals(DescriptorWriter.write(ErofsReader.read(image)), descriptor,
                "the descriptor is the image's tree converted");
        boolean sealed = sealedIn(cached);
        assertEquals(driverCalls(store + ":" + storeB, sealed ? digest : null, 0), c.calls);
        assertTrue(run.result().strategy().startsWith("composefs kernel driver"), run.result().strategy());
        assertTrue(run.log().stream().anyMatch(l -> l.contains(sealed ? "the kernel checks the descriptor's fs-verity"
                : "digest= is not passed to the driver")), run.log().toString());

        // the next mount reuses it; a damaged copy (possible only without fs-verity) is written again
        Run again = mount(DRIVER, new RecordingCalls(), image, "basedir=" + store);
        assertTrue(again.log().stream().anyMatch(l -> l.contains("(cached, reused)")), again.log().toString());
        if (!sealed) {
            byte[] damaged = descriptor.clone();
            damaged[damaged.length - 1] ^= 1;
            Files.write(cached, damaged);
            Run repaired = mount(DRIVER, new RecordingCalls(), image, "basedir=" + store);
            assertTrue(repaired.log().stream().anyMatch(l -> l.contains("was damaged: writing it again")),
                    repaired.log().toString());
            assertArrayEquals(descriptor, repaired.calls().sources.get(0), "the kernel reads the repaired descriptor");
        }
    }

    @Test
    void verityCheckFollowsTheOptions() throws Exception {
        // no object in the stores: nothing says they lack fs-verity, every backed file has a digest
        assertEquals("verity_check 2", verityCheck(image, "basedir=" + storeA + ",verity"));
        assertEquals("verity_check 1", verityCheck(image, "basedir=" + storeA + ",tryverity"));
        assertEquals("verity_check 0", verityCheck(image, "basedir=" + storeA));
        // digest= of the image (fsverity-utils' figure): verified, then enforced
        String imageDigest = fsverityDigest(Files.readAllBytes(image));
        assertEquals("verity_check 2", verityCheck(image, "basedir=" + storeA + ",digest=" + imageDigest));
        assertEquals("verity_check 1", verityCheck(image, "basedir=" + storeA + ",digest=" + imageDigest
                + ",tryverity"));
        assertEquals("verity_check 2", verityCheck(emptyFilesImage, "basedir=" + storeA + ",verity"));
    }

    private static String verityCheck(Path img, String options) throws Exception {
        Run run = mount(DRIVER, new RecordingCalls(), img, options);
        return run.calls().calls.stream().filter(l -> l.contains("verity_check")).findFirst().orElseThrow()
                .replaceFirst(".* (verity_check [0-9])$", "$1");
    }

    @Test
    void wrongDigestOrUnsealedStoreMountsNothing() throws Exception {
        RecordingCalls c = new RecordingCalls();
        MountException e = assertThrows(MountException.class, () -> mount(DRIVER, c, image,
                "basedir=" + storeA + ",digest=" + "00".repeat(32)));
        assertTrue(!e.isUsage(), "a mount failure (exit 32), not a usage error");
        assertEquals(List.of(), c.calls, "nothing reaches the kernel");

        Path store = Files.createDirectories(tmp.resolve("unsealed/" + HEX1.substring(0, 2)));
        Files.write(store.resolve(HEX1.substring(2)), new byte[100000]);
        Path base = store.getParent();
        int fd = fcntl_h.openat(fcntl_h.AT_FDCWD, store.resolve(HEX1.substring(2)).toString(), fcntl_h.O_RDONLY, 0);
        try {
            linux_fsverity_h.measureVerity(fd, "object");
            org.junit.jupiter.api.Assumptions.abort("the temp filesystem has fs-verity: no unsealed store to refuse here");
        } catch (SyscallException expected) {
            // no fs-verity on the object: verity must be refused, tryverity must not ask for it
        } finally {
            unistd_h.closeQuietly(fd);
        }
        RecordingCalls v = new RecordingCalls();
        e = assertThrows(MountException.class, () -> mount(DRIVER, v, image, "basedir=" + base + ",verity"));
        assertTrue(e.getMessage().contains("fs-verity"), e.getMessage());
        assertEquals(List.of(), v.calls, "nothing mounted");
        Run t = mount(DRIVER, new RecordingCalls(), image, "basedir=" + base + ",tryverity");
        assertTrue(t.calls().calls.contains("fsconfig 1000 FSCONFIG_SET_STRING verity_check 0"), t.calls().calls
                .toString());
        assertTrue(t.log().stream().anyMatch(l -> l.startsWith("tryverity: verity_check=0 because")), t.log().toString());
    }

    @Test
    void aRefusedDriverMountFallsBackToOverlayAndSaysWhy() throws Exception {
        RecordingCalls c = new RecordingCalls("fsconfig 1000 FSCONFIG_SET_STRING basedir", Errno.EINVAL);
        Run run = mount(DRIVER, c, image, "basedir=" + storeA);
        List<String> expected = new ArrayList<>(List.of(
                "fsopen composefs 1",
                "fsconfig 1000 FSCONFIG_SET_STRING source /proc/self/fd/<fd>",
                "fsconfig 1000 FSCONFIG_SET_STRING basedir " + storeA,
                "close 1000"));
        expected.addAll(overlayCalls(1001, storeA.toString()));
        assertEquals(expected, c.calls);
        assertTrue(run.result().strategy().startsWith("overlay"), run.result().strategy());
        assertTrue(run.log().stream().anyMatch(l -> l.contains("the composefs driver refused the mount (fsconfig(recorded): "
                + "EINVAL") && l.contains("falling back to overlayfs")), run.log().toString());
    }

    /** Inline files become objects in the writable store; a ':' in a store path goes escaped. */
    @Test
    void inlineFilesAndColonsGoThroughTheDriver() throws Exception {
        Path colon = Files.createDirectories(tmp.resolve("odd:store"));
        Run inline = mount(DRIVER, new RecordingCalls(), inlineImage, "basedir=" + colon.toString().replace(":", "\\:"));
        assertTrue(inline.result().strategy().startsWith("composefs kernel driver"), inline.log().toString());
        String motd = fsverityDigest("hello\n".getBytes(StandardCharsets.US_ASCII));
        assertArrayEquals("hello\n".getBytes(StandardCharsets.US_ASCII),
                Files.readAllBytes(colon.resolve(motd.substring(0, 2)).resolve(motd.substring(2))),
                "the inline file is an object of the store now");
        assertTrue(inline.calls().calls.contains("fsconfig 1000 FSCONFIG_SET_STRING basedir "
                + colon.toString().replace(":", "\\:")), inline.calls().calls.toString());
        var back = DescriptorReader.read(inline.calls().sources.get(0)).root();
        var f = (dev.composefs.core.tree.RegularFile) back.entries().get("motd");
        assertEquals(motd.substring(0, 2) + "/" + motd.substring(2), f.payload());
    }

    @Test
    void whatTheDriverCannotShowGoesToOverlay() throws Exception {
        Path upper = Files.createDirectories(tmp.resolve("upper"));
        Path work = Files.createDirectories(tmp.resolve("work"));
        Run rw = mount(DRIVER, new RecordingCalls(), image, "basedir=" + storeA + ",upperdir=" + upper + ",workdir="
                + work);
        assertTrue(rw.log().stream().anyMatch(l -> l.contains("upperdir= needs overlayfs")), rw.log().toString());
        assertEquals("fsopen erofs 1", rw.calls().calls.get(0));

        // the 2023 module shows every file as the mounter's: an image with other owners is not shown by it
        Path owned = write("owned.cfs", """
                / 4096 40755 2 0 0 0 0.0 - - -
                /home 4096 40755 2 1000 1000 0 0.0 - - -
                """);
        Run other = mount(DRIVER, new RecordingCalls(), owned, "basedir=" + storeA);
        int uid = unistd_h.geteuid();
        assertTrue(other.log().stream().anyMatch(l -> l.contains("owned by the mounter") && l.contains(
                uid == 1000 ? "/" : "/home is owned by 1000:1000")), other.log().toString());
        assertEquals("fsopen erofs 1", other.calls().calls.get(0));
    }

    @Test
    void thisHostsProbeDecides() throws Exception {
        KernelProbe running = KernelProbe.running();
        Run run = mount(running, new RecordingCalls(), image, "basedir=" + storeA);
        String first = run.calls().calls.get(0);
        if (running.composefsDriver()) {
            assertEquals("fsopen composefs 1", first);
        } else {
            // no distribution kernel registers composefs: overlay it is, with no driver attempt at all
            assertTrue(run.calls().calls.stream().noneMatch(l -> l.contains("composefs")), run.calls().calls.toString());
            assertTrue(run.result().strategy().startsWith("overlay"), run.result().strategy());
        }
    }

    /** Kernels with the new API and detached layers but no driver, and with only the legacy string. */
    private static final KernelProbe NEW_API = KernelProbe.of("6.15.0", Set.of("erofs", "overlay"));
    private static final KernelProbe LEGACY = KernelProbe.of("6.6.0", Set.of("erofs", "overlay"));

    /**
     * fsconfig copies at most 255 bytes of a value and mount(2) at most 4095 of options, silently
     * cutting the rest: a layer past either limit goes as /proc/self/fd/N, and no call the kernel
     * sees carries more than it copies.
     */
    @Test
    void noCallCarriesMoreThanTheKernelCopies() throws Exception {
        Path deep = tmp.resolve("d".repeat(250) + "/" + "e".repeat(250));
        Path longA = Files.createDirectories(deep.resolve("store-a"));
        Path longB = Files.createDirectories(deep.resolve("store-b"));
        String opts = "basedir=" + storeA + ":" + longA + ":" + longB;

        Run run = mount(NEW_API, new RecordingCalls(), image, opts);
        List<String> datadirs = run.calls().calls.stream().filter(c -> c.contains(" datadir+ ")).toList();
        assertEquals(List.of("fsconfig 1002 FSCONFIG_SET_STRING datadir+ " + storeA,
                "fsconfig 1002 FSCONFIG_SET_STRING datadir+ /proc/self/fd/<fd>",
                "fsconfig 1002 FSCONFIG_SET_STRING datadir+ /proc/self/fd/<fd>"), datadirs,
                "short paths as they are, long ones through an fd");
        for (String c : run.calls().calls) {
            if (c.startsWith("fsconfig ")) {
                String[] f = c.split(" ", 5);
                assertTrue(f.length < 5 || f[4].length() <= 255, "fsconfig value over 255 bytes: " + c);
            }
        }
    }

    /** Kernels without the new mount API get one option string, which mount(2) cuts at 4095 bytes. */
    @Test
    void theLegacyOptionStringStaysWithinWhatMountTakes() throws Exception {
        assumeTrue(unistd_h.geteuid() == 0, "the legacy kernel's EROFS is mounted from a real loop device: needs root");
        Path deep = tmp.resolve("d".repeat(250) + "/" + "e".repeat(250));
        Path longA = Files.createDirectories(deep.resolve("store-a"));
        Path longB = Files.createDirectories(deep.resolve("store-b"));
        String opts = "basedir=" + storeA + ":" + longA + ":" + longB;
        StringBuilder many = new StringBuilder(opts);
        for (int i = 0; i < 12; i++) {
            many.append(':').append(Files.createDirectories(deep.resolve("more-" + i)));
        }
        Run legacy = mount(LEGACY, new RecordingCalls(), image, many.toString());
        String mountCall = legacy.calls().calls.stream().filter(c -> c.startsWith("mount ")).findFirst().orElseThrow();
        String data = mountCall.substring(mountCall.indexOf("metacopy=on"));
        assertTrue(data.length() <= 4095, "legacy options of " + data.length() + " bytes");
        assertTrue(data.contains("::/proc/self/fd/<fd>::/proc/self/fd/<fd>"), data);
        assertTrue(legacy.log().stream().anyMatch(l -> l.contains("layers passed as /proc/self/fd/N")), legacy.log().toString());

        for (int i = 0; i < 300; i++) {
            many.append(':').append(Files.createDirectories(tmp.resolve("many/" + i)));
        }
        RecordingCalls refused = new RecordingCalls();
        MountException e = assertThrows(MountException.class, () -> mount(LEGACY, refused, image, many.toString()));
        assertTrue(e.getMessage().contains("more than the 4095 bytes mount(2) takes"), e.getMessage());
        assertTrue(refused.calls.stream().noneMatch(c -> c.startsWith("mount ")), "never cut, never called");
    }

    /** The legacy string is for kernels without the new API (ENOSYS), not a second try after any error. */
    @Test
    void theLegacyStringOnlyWhereTheNewApiIsMissing() throws Exception {
        RecordingCalls refusing = new RecordingCalls("fsconfig 1002 FSCONFIG_CMD_CREATE", Errno.EINVAL);
        MountException e = assertThrows(MountException.class,
                () -> mount(NEW_API, refusing, image, "basedir=" + storeA));
        assertTrue(e.getMessage().contains("EINVAL") && e.getMessage().contains("kernel says: e recorded"),
                "the errno and the kernel's log: " + e.getMessage());
        assertTrue(refusing.calls.stream().noneMatch(c -> c.startsWith("mount ")), refusing.calls.toString());

        Run missing = mount(NEW_API, new RecordingCalls("fsopen overlay", Errno.ENOSYS), image, "basedir=" + storeA);
        assertTrue(missing.result().strategy().contains("legacy option string"), missing.result().strategy());
    }

    /** A kernel without EROFS or overlayfs (fsopen's ENODEV): one line saying so, no loop device tried. */
    @Test
    void aKernelWithoutTheFilesystemIsSaidSo() throws Exception {
        RecordingCalls noErofs = new RecordingCalls("fsopen erofs", Errno.ENODEV);
        MountException e = assertThrows(MountException.class, () -> mount(NEW_API, noErofs, image, "basedir=" + storeA));
        assertEquals("this kernel has no erofs filesystem (CONFIG_EROFS_FS, built in or as the erofs module): "
                + "fsopen(recorded): ENODEV (No such device)", e.getMessage());
        assertTrue(noErofs.calls.stream().noneMatch(c -> c.contains("loop")), noErofs.calls.toString());
        RecordingCalls noOverlay = new RecordingCalls("fsopen overlay", Errno.ENODEV);
        e = assertThrows(MountException.class, () -> mount(NEW_API, noOverlay, image, "basedir=" + storeA));
        assertEquals("this kernel has no overlay filesystem (CONFIG_OVERLAY_FS, built in or as the overlay module): "
                + "fsopen(recorded): ENODEV (No such device)", e.getMessage());
    }
}
