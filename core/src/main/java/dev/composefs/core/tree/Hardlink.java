package dev.composefs.core.tree;

/**
 * A further name for a non-directory inode that already appears elsewhere in the tree. The
 * first name is the node itself; upstream numbers inodes by that first name's position, so the
 * distinction is kept rather than treating all names alike.
 */
public record Hardlink(Node target) implements Node {
    public Hardlink {
        if (target instanceof Hardlink || target instanceof Directory) {
            throw new IllegalArgumentException("a hardlink must point to a non-directory inode");
        }
    }

    @Override
    public Meta meta() {
        return target.meta();
    }
}
