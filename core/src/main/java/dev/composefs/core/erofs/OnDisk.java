package dev.composefs.core.erofs;

/**
 * The on-disk structures a composefs image is made of, as composefs-rs's erofs/format.rs has
 * them: one record each, with its fields by their names in the kernel's erofs_fs.h (and
 * libcomposefs' header), written little-endian at a given offset. The writer decides the values;
 * these say where each goes.
 */
final class OnDisk {
    private OnDisk() {}

    /** struct lcfs_erofs_header_s, at offset 0: what makes an EROFS image a composefs one. */
    record ComposefsHeader(int flags, int version) {
        static final int SIZE = 16;

        void writeTo(byte[] b, int p) {
            Le.put32(b, p, Format.COMPOSEFS_MAGIC);
            Le.put32(b, p + 4, Format.COMPOSEFS_HEADER_VERSION);
            Le.put32(b, p + 8, flags);
            Le.put32(b, p + 12, version);
        }
    }

    /** struct erofs_super_block (the fields composefs sets; the rest stay zero), at {@link Format#SUPER_OFFSET}. */
    record Superblock(int featureCompat, int rootNid, long inos, long buildTime, int buildTimeNsec, int blocks,
            int metaBlkaddr, int xattrBlkaddr) {
        void writeTo(byte[] b, int p) {
            Le.put32(b, p + Format.SB_MAGIC, Format.SUPER_MAGIC);
            Le.put32(b, p + Format.SB_FEATURE_COMPAT, featureCompat);
            b[p + Format.SB_BLKSZBITS] = (byte) Format.BLOCK_BITS;
            Le.put16(b, p + Format.SB_ROOT_NID, rootNid);
            Le.put64(b, p + Format.SB_INOS, inos);
            Le.put64(b, p + Format.SB_BUILD_TIME, buildTime);
            Le.put32(b, p + Format.SB_BUILD_TIME_NSEC, buildTimeNsec);
            Le.put32(b, p + Format.SB_BLOCKS, blocks);
            Le.put32(b, p + Format.SB_META_BLKADDR, metaBlkaddr);
            Le.put32(b, p + Format.SB_XATTR_BLKADDR, xattrBlkaddr);
        }
    }

    /**
     * struct erofs_inode_compact (32 bytes): 16-bit owner and link count, a 32-bit size, no
     * timestamp of its own (the superblock's build time). u is i_u: a block address, chunk
     * format or device number.
     */
    record CompactInode(int format, int xattrIcount, int mode, int nlink, int size, int u, int ino, int uid, int gid) {
        static final int SIZE = Format.INODE_COMPACT_SIZE;

        void writeTo(byte[] b, int p) {
            Le.put16(b, p, format);
            Le.put16(b, p + 2, xattrIcount);
            Le.put16(b, p + 4, mode);
            Le.put16(b, p + 6, nlink);
            Le.put32(b, p + 8, size);
            Le.put32(b, p + 16, u);
            Le.put32(b, p + 20, ino);
            Le.put16(b, p + 24, uid);
            Le.put16(b, p + 26, gid);
        }
    }

    /** struct erofs_inode_extended (64 bytes): 32-bit owners and link count, 64-bit size, its own mtime. */
    record ExtendedInode(int format, int xattrIcount, int mode, long size, int u, int ino, int uid, int gid,
            long mtime, int mtimeNsec, int nlink) {
        static final int SIZE = Format.INODE_EXTENDED_SIZE;

        void writeTo(byte[] b, int p) {
            Le.put16(b, p, format);
            Le.put16(b, p + 2, xattrIcount);
            Le.put16(b, p + 4, mode);
            Le.put64(b, p + 8, size);
            Le.put32(b, p + 16, u);
            Le.put32(b, p + 20, ino);
            Le.put32(b, p + 24, uid);
            Le.put32(b, p + 28, gid);
            Le.put64(b, p + 32, mtime);
            Le.put32(b, p + 40, mtimeNsec);
            Le.put32(b, p + 44, nlink);
        }
    }

    /** struct erofs_xattr_ibody_header: the inline xattrs' bloom filter (inverted) and shared count. */
    record InodeXattrHeader(int nameFilter, int sharedCount) {
        static final int SIZE = Format.XATTR_IBODY_HEADER_SIZE;

        void writeTo(byte[] b, int p) {
            Le.put32(b, p, nameFilter);
            b[p + 4] = (byte) sharedCount;
        }
    }

    /**
     * struct erofs_xattr_entry: the name's length past its prefix, the prefix's index and the
     * value's length; the name suffix and the value follow it.
     */
    record XattrEntry(int nameLen, int nameIndex, int valueSize) {
        static final int SIZE = Format.XATTR_ENTRY_SIZE;

        void writeTo(byte[] b, int p) {
            b[p] = (byte) nameLen;
            b[p + 1] = (byte) nameIndex;
            Le.put16(b, p + 2, valueSize);
        }
    }

    /** struct erofs_dirent: the entry's inode number (nid), where its name starts in the block, its type. */
    record Dirent(long nid, int nameoff, int fileType) {
        static final int SIZE = Format.DIRENT_SIZE;

        void writeTo(byte[] b, int p) {
            Le.put64(b, p, nid);
            Le.put16(b, p + 8, nameoff);
            b[p + 10] = (byte) fileType;
        }
    }
}
