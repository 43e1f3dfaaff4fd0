package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.mount.MountException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A target inside a container's rootfs is resolved as the container sees it: its symlinks cannot lead outside. */
class RootfsMountTest {
    @TempDir
    Path tmp;

    @Test
    void aSymlinkInTheRootfsResolvesInsideIt() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("rootfs")).toRealPath();
        Path host = Files.createDirectories(tmp.resolve("host-dir")).toRealPath();
        Files.createSymbolicLink(root.resolve("opt"), host);                 // absolute: the host's path
        Files.createSymbolicLink(root.resolve("up"), Path.of("../../.."));    // relative, climbing out
        // the link's target does not exist inside the root: refused, nothing made anywhere
        MountException e = assertThrows(MountException.class, () -> RootfsMount.inRoot(root, Path.of("opt/app"), "/opt/app"));
        assertEquals("target /opt/app: /opt is a symlink to no directory inside the container's root", e.getMessage());
        assertFalse(Files.exists(host.resolve("app")), "nothing made on the host");
        // where it exists inside the root, that is where the target is made
        Path inside = Files.createDirectories(root.resolve(host.toString().substring(1)));
        Path opt = RootfsMount.inRoot(root, Path.of("opt/app"), "/opt/app");
        assertEquals(inside.resolve("app"), opt);
        assertTrue(Files.isDirectory(opt));
        assertFalse(Files.exists(host.resolve("app")), "nothing made on the host");
        Path up = RootfsMount.inRoot(root, Path.of("up/x"), "/up/x");
        assertEquals(root.resolve("x"), up);
        Path plain = RootfsMount.inRoot(root, Path.of("srv/data"), "/srv/data");
        assertEquals(root.resolve("srv/data"), plain);
    }
}
