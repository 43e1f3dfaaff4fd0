package dev.composefs.bindings;

/** linux/fs.h: reflink cloning of a whole file. */
public final class linux_fs_h {
    private linux_fs_h() {}

    /** _IOW(0x94, 9, int) */
    public static final long FICLONE = 0x40049409L;

    /** Makes dest share src's extents (copy-on-write); EOPNOTSUPP/EXDEV where the fs cannot. */
    public static void ficlone(int destFd, int srcFd, String target) throws SyscallException {
        sys_ioctl_h.ioctl(destFd, FICLONE, srcFd, "FICLONE", target);
    }
}
