package dev.composefs.core.scan;

/**
 * How a directory becomes a tree, with upstream mkcomposefs' flags: --use-epoch (all mtimes 0),
 * --skip-devices, --skip-xattrs, --user-xattrs (only user.*), --threads; plus --hardlinks, which
 * keeps hardlinks (grouped by device and inode) where upstream gives every name its own inode.
 */
public record ScanOptions(boolean useEpoch, boolean skipDevices, boolean skipXattrs, boolean userXattrs,
        boolean hardlinks, int threads) {
    public ScanOptions {
        if (skipXattrs && userXattrs) {
            throw new IllegalArgumentException("--skip-xattrs and --user-xattrs exclude each other");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1");
        }
    }

    public static ScanOptions defaults() {
        return new ScanOptions(false, false, false, false, false, Runtime.getRuntime().availableProcessors());
    }
}
