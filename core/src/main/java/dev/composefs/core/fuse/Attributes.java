package dev.composefs.core.fuse;

import dev.composefs.bindings.sys_stat_h;
import dev.composefs.core.erofs.ErofsWriter;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;

/** What stat shows of an image's inode where the tree does not hold it as such. */
final class Attributes {
    private Attributes() {}

    /** The size the kernel's mount of the image shows: a directory's is its EROFS layout's. */
    static long size(Node n, boolean isRoot) {
        if (n instanceof RegularFile f) {
            return f.size();
        }
        if (n instanceof Symlink s) {
            return s.target().length(); // ISO-8859-1: a char per byte
        }
        if (n instanceof Directory d) {
            return ErofsWriter.directorySize(d, isRoot);
        }
        return 0;
    }

    static long blocks(long size) {
        return (size + 511) / 512;
    }

    /** A device number as the FUSE protocol carries it: the kernel's new_encode_dev. */
    static int newEncodedDev(long rdev) {
        int major = sys_stat_h.major(rdev);
        int minor = sys_stat_h.minor(rdev);
        return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
    }
}
