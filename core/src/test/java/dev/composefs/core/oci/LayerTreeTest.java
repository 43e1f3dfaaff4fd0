package dev.composefs.core.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.oci.LayerTree.Dir;
import dev.composefs.core.oci.LayerTree.Leaf;
import dev.composefs.core.oci.LayerTree.Link;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.RegularFile;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The OCI image spec's layer rules: whiteouts and opaque markers act on lower layers only. */
class LayerTreeTest {
    private static Leaf file(int mtime) {
        return new Leaf(new RegularFile(new Meta(Meta.S_IFREG | 0644, 0, 0, mtime, 0, 1, null), 0, null, null, null));
    }

    private static Dir dir(Object... nameEntry) {
        Dir d = new Dir(new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 1, null));
        for (int i = 0; i < nameEntry.length; i += 2) {
            d.children.put((String) nameEntry[i], (LayerTree.Entry) nameEntry[i + 1]);
        }
        return d;
    }

    @Test
    void aWhiteoutRemovesTheLowerEntryButNotItsOwnLayers() throws IOException {
        Dir image = dir("a", file(1), "b", file(1), "d", dir("x", file(1)));
        Dir layer = dir("b", file(2));
        layer.whiteouts.addAll(Set.of("a", "b", "d"));
        LayerTree.merge(image, layer, "test");
        assertEquals(Set.of("b"), image.children.keySet());
        assertEquals(2, ((Leaf) image.children.get("b")).node().meta().mtimeSec());
    }

    @Test
    void anOpaqueDirectoryKeepsOnlyItsOwnLayersEntries() throws IOException {
        Dir image = dir("o", dir("lower", file(1), "both", file(1)));
        Dir o = dir("both", file(2), "new", file(2));
        o.opaque = true;
        LayerTree.merge(image, dir("o", o), "test");
        Dir merged = (Dir) image.children.get("o");
        assertEquals(Set.of("both", "new"), merged.children.keySet());
    }

    @Test
    void aDirectoryOverAFileReplacesItAndAnImpliedDirectoryKeepsTheLowerMeta() throws IOException {
        Dir keep = dir("inside", file(1));
        keep.meta = new Meta(Meta.S_IFDIR | 0700, 5, 5, 9, 0, 1, null);
        Dir image = dir("f", file(1), "keep", keep);
        Dir implied = new Dir(null);
        implied.children.put("more", file(2));
        LayerTree.merge(image, dir("f", dir("x", file(2)), "keep", implied), "test");
        assertInstanceOf(Dir.class, image.children.get("f"));
        assertEquals(0700, ((Dir) image.children.get("keep")).meta.mode() & 07777);
        assertEquals(Set.of("inside", "more"), ((Dir) image.children.get("keep")).children.keySet());
    }

    @Test
    void hardlinksResolveToLowerFilesAndBecomeOneInodeWithItsNameCount() throws IOException {
        Leaf target = file(1);
        Dir image = dir("bin", dir("tool", target));
        LayerTree.merge(image, dir("bin", dir("alias", new Link(List.of("bin", "tool"), "bin/alias")),
                "other", new Link(List.of("bin", "tool"), "other")), "test");
        assertSame(target, image.children.get("other"));
        Directory tree = OciImport.freeze(image);
        Directory bin = (Directory) tree.entries().get("bin");
        assertEquals(3, bin.entries().get("alias").meta().nlink());
        assertInstanceOf(RegularFile.class, bin.entries().get("alias"), "the first name in tree order is the inode");
        assertInstanceOf(Hardlink.class, bin.entries().get("tool"));
        assertInstanceOf(Hardlink.class, tree.entries().get("other"));
    }

    @Test
    void aLinkToALowerFileKeepsItWhenItsLayerReplacesTheName() throws IOException {
        Leaf old = file(1);
        Dir image = dir("a", old);
        Leaf replacement = file(2);
        LayerTree.merge(image, dir("a", replacement, "b", new Link(List.of("a"), "b")), "test");
        assertSame(old, image.children.get("b"), "the inode the link was made to");
        assertSame(replacement, image.children.get("a"));
    }

    private static Leaf symlink(String target) {
        return new Leaf(new dev.composefs.core.tree.Symlink(new Meta(Meta.S_IFLNK | 0777, 0, 0, 0, 0, 1, null), target));
    }

    @Test
    void membersBelowALowerSymlinkLandWhereItPointsInsideTheImage() throws IOException {
        Dir lib = dir("old", file(1));
        Dir image = dir("usr", dir("lib", lib), "lib", symlink("/../usr/./lib"), "up", symlink("../../.."),
                "loop", symlink("loop"));
        Dir layerLib = new Dir(null);
        layerLib.children.put("new", file(2));
        layerLib.whiteouts.add("old");
        LayerTree.merge(image, dir("lib", layerLib), "test");
        assertEquals(Set.of("new"), lib.children.keySet(), "through the symlink, '..' stopping at the root");
        assertEquals(List.of(), LayerTree.resolve(image, List.of(), "../../..", 0), "never above the root");
        assertEquals(null, LayerTree.resolve(image, List.of(), "loop", 0), "a loop resolves to nothing");
        Dir below = new Dir(null);
        below.children.put("x", file(3));
        LayerTree.merge(image, dir("loop", below), "test");
        assertInstanceOf(Dir.class, image.children.get("loop"), "a symlink that leads nowhere is replaced");
        // a dangling one: its target's missing directories are made (their mtimes are the
        // extraction time in umoci's rootfs, so only this test compares it)
        image.children.put("dangling", symlink("usr/share/new"));
        Dir more = new Dir(null);
        more.children.put("y", file(4));
        LayerTree.merge(image, dir("dangling", more), "test");
        assertInstanceOf(Leaf.class, image.children.get("dangling"));
        assertEquals(Set.of("y"), ((Dir) LayerTree.lookup(image, List.of("usr", "share", "new"))).children.keySet());
    }

    @Test
    void aHardlinkToNothingOrToADirectoryIsRefused() {
        IOException e = assertThrows(IOException.class, () -> LayerTree.merge(dir(),
                dir("l", new Link(List.of("missing"), "l")), "layer sha256:x"));
        assertTrue(e.getMessage().startsWith("layer sha256:x: hardlink l -> missing"), e.getMessage());
        e = assertThrows(IOException.class, () -> LayerTree.merge(dir("d", dir()),
                dir("l", new Link(List.of("d"), "l")), "layer sha256:x"));
        assertTrue(e.getMessage().contains("points to a directory"), e.getMessage());
    }

    @Test
    void dotDotInAMemberNameIsRefused() {
        IOException e = assertThrows(IOException.class, () -> LayerTree.components("./a/../../etc/passwd", "layer"));
        assertTrue(e.getMessage().contains("outside the image"), e.getMessage());
    }
}
