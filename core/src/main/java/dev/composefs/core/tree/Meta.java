package dev.composefs.core.tree;

/**
 * The inode attributes every node has. {@code mode} keeps all bits given (a dump may carry
 * more than 16), the image stores the low 16.
 */
public record Meta(int mode, int uid, int gid, long mtimeSec, int mtimeNsec, int nlink, Xattrs xattrs) {
    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;

    public Meta {
        if (xattrs == null) {
            xattrs = new Xattrs();
        }
    }

    public int type() {
        return mode & S_IFMT;
    }

    public Meta withMode(int newMode) {
        return new Meta(newMode, uid, gid, mtimeSec, mtimeNsec, nlink, xattrs);
    }

    public Meta withNlink(int newNlink) {
        return new Meta(mode, uid, gid, mtimeSec, mtimeNsec, newNlink, xattrs);
    }

    public static boolean isValidType(int mode) {
        return switch (mode & S_IFMT) {
            case S_IFREG, S_IFDIR, S_IFLNK, S_IFBLK, S_IFCHR, S_IFSOCK, S_IFIFO -> true;
            default -> false;
        };
    }
}
