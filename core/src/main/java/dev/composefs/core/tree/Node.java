package dev.composefs.core.tree;

/**
 * One entry of a composefs tree. Names, paths, xattr keys and symlink targets are raw bytes
 * carried in Latin-1 strings (one char per byte), so {@link String#compareTo} orders them
 * exactly like strcmp(3) and nothing is lost for names that are not UTF-8.
 */
public sealed interface Node permits Directory, RegularFile, Symlink, Device, Fifo, Socket, Hardlink {
    /** Mode, ownership, mtime, nlink and xattrs; for a hardlink, those of its target. */
    Meta meta();

    /** S_IF* type bits of the mode. */
    default int type() {
        return meta().mode() & Meta.S_IFMT;
    }

    /**
     * n counted as nlink names of one inode: the same node with that nlink in its meta (itself
     * where nlink is 1, and for a directory or a hardlink, whose count is not theirs to carry).
     */
    static Node withNlink(Node n, int nlink) {
        if (nlink == 1) {
            return n;
        }
        Meta m = n.meta().withNlink(nlink);
        return switch (n) {
            case RegularFile f -> new RegularFile(m, f.size(), f.content(), f.payload(), f.digest());
            case Symlink s -> new Symlink(m, s.target());
            case Device d -> new Device(m, d.rdev());
            case Fifo f -> new Fifo(m);
            case Socket s -> new Socket(m);
            case Directory d -> d;
            case Hardlink h -> h;
        };
    }
}
