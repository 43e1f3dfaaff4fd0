package dev.composefs.core.tree;

/** The limits upstream libcomposefs enforces on any tree it writes. */
public final class Limits {
    private Limits() {}

    /** NAME_MAX. */
    public static final int NAME_MAX = 255;
    /** PATH_MAX: symlink targets and payloads must be shorter. */
    public static final int PATH_MAX = 4096;
    /** XATTR_NAME_MAX. */
    public static final int XATTR_NAME_MAX = 255;
    /** Largest xattr value (u16 e_value_size). */
    public static final int XATTR_VALUE_MAX = 65535;
    /** Per-inode bound on the accounted xattr size (UINT16_MAX / 2). */
    public static final int XATTR_INODE_MAX = 65535 / 2;
    /**
     * The deepest directory nesting (levels below the root) that this project writes or reads, in
     * images and descriptors alike, so that any image it writes it can also read back. Linux
     * itself mounts deeper trees; 16384 levels of one-byte names are a 32 KiB path.
     */
    public static final int MAX_DEPTH = 16384;
    /** LCFS_INLINE_CONTENT_MAX: largest inline file content. */
    public static final int INLINE_CONTENT_MAX = 5000;
    /** LCFS_MAX_NONINLINE_CHUNKS: chunk indexes of an external file must fit one block. */
    public static final int MAX_NONINLINE_CHUNKS = 1024;

    /**
     * Checks the xattrs of one inode the way lcfs_node_set_xattr accounts them (7 bytes of
     * overhead per entry plus a 12-byte header for the first), so a tree we accept is one
     * upstream accepts.
     */
    public static void checkXattrs(Xattrs xattrs, String where) throws TreeException {
        String problem = xattrProblem(xattrs);
        if (problem != null) {
            throw new TreeException(where + ": " + problem);
        }
    }

    /** What is wrong with these xattrs, or null; cheap when all is well. */
    public static String xattrProblem(Xattrs xattrs) {
        long total = 0;
        for (var e : xattrs.entries()) {
            String problem = xattrProblem(e.getKey(), e.getValue().length, total);
            if (problem != null) {
                return problem;
            }
            total = xattrAccounted(total, e.getKey(), e.getValue().length);
        }
        return null;
    }

    /** What is wrong with one more xattr on an inode whose xattrs so far account for total bytes, or null. */
    public static String xattrProblem(String key, int valueLength, long total) {
        if (key.isEmpty()) {
            return "empty xattr name";
        }
        if (key.length() > XATTR_NAME_MAX) {
            return "xattr name longer than " + XATTR_NAME_MAX + " bytes";
        }
        if (valueLength > XATTR_VALUE_MAX) {
            return "value of xattr " + key + " longer than " + XATTR_VALUE_MAX + " bytes";
        }
        if (xattrAccounted(total, key, valueLength) > XATTR_INODE_MAX) {
            return "xattrs too large (more than " + XATTR_INODE_MAX + " bytes on one inode)";
        }
        return null;
    }

    /** The accounted total after removing an xattr; last: it was the inode's only one, whose header goes too. */
    public static long xattrReleased(long total, String key, int valueLength, boolean last) {
        return last ? 0 : total - 7 - key.length() - valueLength;
    }

    /** The accounted total after one more xattr: 7 bytes of overhead per entry, 12 more for the first. */
    public static long xattrAccounted(long total, String key, int valueLength) {
        return total + 7 + key.length() + valueLength + (total == 0 ? 12 : 0);
    }
}
