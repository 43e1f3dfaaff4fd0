package dev.composefs.core.scan;

/**
 * How a directory becomes a tree, with upstream mkcomposefs' flags: --use-epoch (all mtimes 0),
 * --skip-devices, --skip-xattrs, --user-xattrs (only user.*), --threads; plus --hardlinks, which
 * keeps hardlinks (grouped by device and inode) where upstream gives every name its own inode,
 * and {@code inlineLimit}: files up to this size are kept in the image (upstream: 64 bytes; 0 for
 * a kernel-driver descriptor, which cannot hold file content).
 */
public record ScanOptions(boolean useEpoch, boolean skipDevices, boolean skipXattrs, boolean userXattrs,
        boolean hardlinks, int threads, int inlineLimit) {
    /** upstream's LCFS_BUILD_INLINE_FILE_SIZE_LIMIT. */
    public static final int UPSTREAM_INLINE_LIMIT = 64;

    public ScanOptions {
        if (inlineLimit < 0 || inlineLimit > UPSTREAM_INLINE_LIMIT) {
            throw new IllegalArgumentException("inline limit must be 0.." + UPSTREAM_INLINE_LIMIT);
        }
        if (skipXattrs && userXattrs) {
            throw new IllegalArgumentException("--skip-xattrs and --user-xattrs exclude each other");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1");
        }
    }

    public static ScanOptions defaults() {
        return new ScanOptions(false, false, false, false, false, Runtime.getRuntime().availableProcessors(),
                UPSTREAM_INLINE_LIMIT);
    }
}
