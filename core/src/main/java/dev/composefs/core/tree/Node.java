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
}
