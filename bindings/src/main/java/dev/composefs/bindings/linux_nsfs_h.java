package dev.composefs.bindings;

/** linux/nsfs.h: what kind of namespace an nsfs file (/proc/PID/ns/*) is. */
public final class linux_nsfs_h {
    private linux_nsfs_h() {}

    public static final long NS_GET_NSTYPE = 0xb703L;

    /** The CLONE_NEW* type of the namespace fd refers to; ENOTTY where fd is no namespace file. */
    public static int nsType(int fd, String target) throws SyscallException {
        return sys_ioctl_h.ioctl(fd, NS_GET_NSTYPE, 0, "NS_GET_NSTYPE", target);
    }
}
