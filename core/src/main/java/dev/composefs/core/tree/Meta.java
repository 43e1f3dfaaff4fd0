package dev.composefs.core.tree;

import dev.composefs.bindings.sys_stat_h;

/**
 * The inode attributes every node has. {@code mode} keeps all bits given (a dump may carry
 * more than 16), the image stores the low 16.
 */
public record Meta(int mode, int uid, int gid, long mtimeSec, int mtimeNsec, int nlink, Xattrs xattrs) {
    // The file type bits, from the binding that the layout probe checks against <sys/stat.h>.
    public static final int S_IFMT = sys_stat_h.S_IFMT;
    public static final int S_IFSOCK = sys_stat_h.S_IFSOCK;
    public static final int S_IFLNK = sys_stat_h.S_IFLNK;
    public static final int S_IFREG = sys_stat_h.S_IFREG;
    public static final int S_IFBLK = sys_stat_h.S_IFBLK;
    public static final int S_IFDIR = sys_stat_h.S_IFDIR;
    public static final int S_IFCHR = sys_stat_h.S_IFCHR;
    public static final int S_IFIFO = sys_stat_h.S_IFIFO;

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
