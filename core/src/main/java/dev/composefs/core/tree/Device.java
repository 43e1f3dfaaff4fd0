package dev.composefs.core.tree;

/**
 * A character or block device (by the mode's type). A character device 0:0 is an overlayfs
 * whiteout; rdev is glibc's dev_t encoding as composefs dumps print it.
 */
public record Device(Meta meta, long rdev) implements Node {
    public boolean isWhiteout() {
        return type() == Meta.S_IFCHR && rdev == 0;
    }
}
