package dev.composefs.core.erofs;

/**
 * The on-disk constants of EROFS (as composefs uses it: 4 KiB blocks, no compression) and of the
 * composefs header in front of it. Offsets are little-endian byte offsets within each structure.
 */
public final class Format {
    private Format() {}

    public static final int BLOCK_BITS = 12;
    public static final int BLOCK_SIZE = 1 << BLOCK_BITS;
    /** Inodes are addressed in 32-byte slots (nid = offset / 32). */
    public static final int SLOT_SIZE = 32;

    // composefs header (the first bytes of the image; EROFS ignores its first 1024 bytes)
    public static final int COMPOSEFS_MAGIC = 0xd078629a;
    public static final int COMPOSEFS_HEADER_VERSION = 1;
    public static final int COMPOSEFS_FLAGS_HAS_ACL = 1;
    public static final int COMPOSEFS_VERSION_MAX = 1;

    // superblock
    public static final int SUPER_OFFSET = 1024;
    public static final int SUPER_SIZE = 128;
    public static final int SUPER_MAGIC = 0xE0F5E1E2;
    public static final int FEATURE_COMPAT_MTIME = 0x2;
    public static final int FEATURE_COMPAT_XATTR_FILTER = 0x4;
    public static final int SB_MAGIC = 0;
    public static final int SB_FEATURE_COMPAT = 8;
    public static final int SB_BLKSZBITS = 12;
    public static final int SB_ROOT_NID = 14;
    public static final int SB_INOS = 16;
    public static final int SB_BUILD_TIME = 24;
    public static final int SB_BUILD_TIME_NSEC = 32;
    public static final int SB_BLOCKS = 36;
    public static final int SB_META_BLKADDR = 40;
    public static final int SB_XATTR_BLKADDR = 44;
    public static final int SB_FEATURE_INCOMPAT = 80;

    // inodes
    public static final int INODE_COMPACT_SIZE = 32;
    public static final int INODE_EXTENDED_SIZE = 64;
    public static final int LAYOUT_FLAT_PLAIN = 0;
    public static final int LAYOUT_FLAT_INLINE = 2;
    public static final int LAYOUT_CHUNK_BASED = 4;
    public static final int I_VERSION_BIT = 0;
    public static final int I_DATALAYOUT_BIT = 1;
    public static final int CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
    public static final int CHUNK_FORMAT_INDEXES = 0x20;
    public static final int NULL_ADDR = -1;

    // dirents
    public static final int DIRENT_SIZE = 12;
    public static final int FT_UNKNOWN = 0;
    public static final int FT_REG_FILE = 1;
    public static final int FT_DIR = 2;
    public static final int FT_CHRDEV = 3;
    public static final int FT_BLKDEV = 4;
    public static final int FT_FIFO = 5;
    public static final int FT_SOCK = 6;
    public static final int FT_SYMLINK = 7;

    // xattrs
    public static final int XATTR_IBODY_HEADER_SIZE = 12;
    public static final int XATTR_ENTRY_SIZE = 4;
    public static final int XATTR_LONG_PREFIX = 0x80;
    public static final int XATTR_FILTER_SEED = 0x25BBE08F;
    public static final int XATTR_FILTER_BITS = 32;
    public static final int XATTR_INDEX_USER = 1;
    public static final int XATTR_INDEX_POSIX_ACL_ACCESS = 2;
    public static final int XATTR_INDEX_POSIX_ACL_DEFAULT = 3;
    public static final int XATTR_INDEX_TRUSTED = 4;
    public static final int XATTR_INDEX_SECURITY = 6;

    /** Prefixes by index, as EROFS abbreviates xattr names ("" = index 0, full name stored). */
    static final String[] XATTR_PREFIXES = {
        "", "user.", "system.posix_acl_access", "system.posix_acl_default", "trusted.", "", "security."
    };

    /** The EROFS prefix index for a key; the suffix stored is key.substring(prefix length). */
    static int xattrIndex(String key) {
        if (key.startsWith("user.")) {
            return XATTR_INDEX_USER;
        } else if (key.startsWith("system.posix_acl_access")) {
            return XATTR_INDEX_POSIX_ACL_ACCESS;
        } else if (key.startsWith("system.posix_acl_default")) {
            return XATTR_INDEX_POSIX_ACL_DEFAULT;
        } else if (key.startsWith("trusted.")) {
            return XATTR_INDEX_TRUSTED;
        } else if (key.startsWith("security.")) {
            return XATTR_INDEX_SECURITY;
        }
        return 0;
    }

    static long roundUp(long v, long align) {
        return (v + align - 1) / align * align;
    }
}
