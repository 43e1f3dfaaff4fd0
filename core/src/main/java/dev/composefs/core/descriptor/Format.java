package dev.composefs.core.descriptor;

import java.nio.ByteBuffer;

/**
 * The on-disk structures of the descriptor that the kernel composefs driver of the 2022-2023
 * patch series mounts (see ../shared/conformance/KERNEL-DRIVER-FORMAT.md): a 128-byte
 * superblock, a table of 96-byte inodes (inode number = index, root = 0) and a variable data
 * section that dirents, backing paths, symlink targets, xattrs and digests point into. All
 * little-endian and packed; the writer aligns every variable-data item to 4 bytes.
 */
public final class Format {
    private Format() {}

    public static final int VERSION = 1;
    public static final int MAGIC = 0xc078629a;
    public static final int SUPERBLOCK_SIZE = 128;
    public static final int INODE_SIZE = 96;
    public static final int DIRENT_SIZE = 12;
    public static final int DIGEST_SIZE = 32;
    public static final int ALIGN = 4;
    /** u16 n_attr. */
    public static final int MAX_XATTRS = 65535;
    /** The driver refuses a descriptor of this size or less (superblock and one inode): pad to more. */
    public static final int MIN_SIZE_EXCLUSIVE = SUPERBLOCK_SIZE + INODE_SIZE;

    /**
     * st_rdev as the driver takes it: the kernel's internal dev_t, {@code major << 20 | minor}
     * (12 and 20 bits), from the glibc encoding the tree carries. Larger numbers are cut to those
     * widths, as EROFS cuts its rdev to 32 bits.
     */
    public static int kernelDev(long rdev) {
        long major = ((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL);
        long minor = ((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL);
        return (int) (((major & 0xfff) << 20) | (minor & 0xfffff));
    }

    /** The glibc encoding of a kernel dev_t read from a descriptor. */
    public static long userDev(int kdev) {
        long major = (kdev >>> 20) & 0xfff;
        long minor = kdev & 0xfffff;
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    /** The superblock: {@code u32 version, u32 magic, u64 vdata_offset, u32 unused[28]}. */
    public record Superblock(int version, int magic, long vdataOffset) {
        public void put(ByteBuffer bb) {
            bb.putInt(0, version).putInt(4, magic).putLong(8, vdataOffset);
        }

        public static Superblock get(ByteBuffer bb) {
            return new Superblock(bb.getInt(0), bb.getInt(4), bb.getLong(8));
        }
    }

    /** A reference into the variable data section: {@code u64 off} (from its start), {@code u32 len}. */
    public record Vdata(long off, int len) {
        public static final Vdata NONE = new Vdata(0, 0);

        public long unsignedLen() {
            return Integer.toUnsignedLong(len);
        }

        void put(ByteBuffer bb, int at) {
            bb.putLong(at, off).putInt(at + 8, len);
        }

        static Vdata get(ByteBuffer bb, int at) {
            return new Vdata(bb.getLong(at), bb.getInt(at + 8));
        }
    }

    /**
     * One inode. {@code variable} is a directory's dirents, a regular file's backing path or a
     * symlink's target; {@code digest} the expected fs-verity digest of a backing file. nlink
     * counts only for regular files (the driver computes it for the rest).
     */
    public record Inode(int mode, int nlink, int uid, int gid, int rdev, long size, long mtimeSec, int mtimeNsec,
            long ctimeSec, int ctimeNsec, Vdata variable, Vdata xattrs, Vdata digest) {

        public void put(ByteBuffer bb, int at) {
            bb.putInt(at, mode).putInt(at + 4, nlink).putInt(at + 8, uid).putInt(at + 12, gid).putInt(at + 16, rdev)
                    .putLong(at + 20, size).putLong(at + 28, mtimeSec).putInt(at + 36, mtimeNsec)
                    .putLong(at + 40, ctimeSec).putInt(at + 48, ctimeNsec);
            variable.put(bb, at + 52);
            xattrs.put(bb, at + 64);
            digest.put(bb, at + 76);
            // at + 88: u32 unused[2], left zero
        }

        public static Inode get(ByteBuffer bb, int at) {
            return new Inode(bb.getInt(at), bb.getInt(at + 4), bb.getInt(at + 8), bb.getInt(at + 12),
                    bb.getInt(at + 16), bb.getLong(at + 20), bb.getLong(at + 28), bb.getInt(at + 36),
                    bb.getLong(at + 40), bb.getInt(at + 48), Vdata.get(bb, at + 52), Vdata.get(bb, at + 64),
                    Vdata.get(bb, at + 76));
        }
    }

    /** A directory entry: {@code u32 inode_num, u32 name_offset} (from the end of the dirent table), {@code u8 name_len, u8 d_type, u16 padding}. */
    public record Dirent(int inode, int nameOffset, int nameLen, int dType) {
        public void put(ByteBuffer bb, int at) {
            bb.putInt(at, inode).putInt(at + 4, nameOffset).put(at + 8, (byte) nameLen).put(at + 9, (byte) dType)
                    .putShort(at + 10, (short) 0);
        }

        public static Dirent get(ByteBuffer bb, int at) {
            return new Dirent(bb.getInt(at), bb.getInt(at + 4), bb.get(at + 8) & 0xff, bb.get(at + 9) & 0xff);
        }
    }

    /** DT_* of a mode's type: the S_IFMT bits shifted down, as <dirent.h> defines them. */
    public static int dType(int mode) {
        return (mode >>> 12) & 0xf;
    }
}
