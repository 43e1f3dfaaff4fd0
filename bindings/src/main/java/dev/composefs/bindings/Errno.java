package dev.composefs.bindings;

import java.util.LinkedHashMap;
import java.util.Map;

/** errno values of asm-generic/errno-base.h and errno.h that our calls can return, by name. */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int ENOEXEC = 8;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int ENOTBLK = 15;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int ETXTBSY = 26;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EROFS = 30;
    public static final int EMLINK = 31;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int EDEADLK = 35;
    public static final int ENAMETOOLONG = 36;
    public static final int ENOSYS = 38;
    public static final int ENOTEMPTY = 39;
    public static final int ELOOP = 40;
    public static final int ENODATA = 61;
    public static final int EOVERFLOW = 75;
    public static final int EBADMSG = 74;
    public static final int EILSEQ = 84;
    public static final int EOPNOTSUPP = 95;
    public static final int ETIMEDOUT = 110;
    public static final int ESTALE = 116;
    /** EROFS and ext4 return it for a corrupted filesystem (their EFSCORRUPTED). */
    public static final int EUCLEAN = 117;
    public static final int EPROTO = 71;
    public static final int ENOTCONN = 107;
    public static final int EDQUOT = 122;
    public static final int ENOMEDIUM = 123;
    public static final int EMEDIUMTYPE = 124;
    public static final int ECANCELED = 125;
    public static final int ENOKEY = 126;
    public static final int EKEYREJECTED = 129;
    public static final int EMSGSIZE = 90;

    private record Entry(int value, String name, String description) {}

    private static final Entry[] TABLE = {
        new Entry(EPERM, "EPERM", "Operation not permitted"),
        new Entry(ENOENT, "ENOENT", "No such file or directory"),
        new Entry(ESRCH, "ESRCH", "No such process"),
        new Entry(EINTR, "EINTR", "Interrupted system call"),
        new Entry(EIO, "EIO", "Input/output error"),
        new Entry(ENXIO, "ENXIO", "No such device or address"),
        new Entry(E2BIG, "E2BIG", "Argument list too long"),
        new Entry(ENOEXEC, "ENOEXEC", "Exec format error"),
        new Entry(EBADF, "EBADF", "Bad file descriptor"),
        new Entry(ECHILD, "ECHILD", "No child processes"),
        new Entry(EAGAIN, "EAGAIN", "Resource temporarily unavailable"),
        new Entry(ENOMEM, "ENOMEM", "Cannot allocate memory"),
        new Entry(EACCES, "EACCES", "Permission denied"),
        new Entry(EFAULT, "EFAULT", "Bad address"),
        new Entry(ENOTBLK, "ENOTBLK", "Block device required"),
        new Entry(EBUSY, "EBUSY", "Device or resource busy"),
        new Entry(EEXIST, "EEXIST", "File exists"),
        new Entry(EXDEV, "EXDEV", "Invalid cross-device link"),
        new Entry(ENODEV, "ENODEV", "No such device"),
        new Entry(ENOTDIR, "ENOTDIR", "Not a directory"),
        new Entry(EISDIR, "EISDIR", "Is a directory"),
        new Entry(EINVAL, "EINVAL", "Invalid argument"),
        new Entry(ENFILE, "ENFILE", "Too many open files in system"),
        new Entry(EMFILE, "EMFILE", "Too many open files"),
        new Entry(ENOTTY, "ENOTTY", "Inappropriate ioctl for device"),
        new Entry(ETXTBSY, "ETXTBSY", "Text file busy"),
        new Entry(EFBIG, "EFBIG", "File too large"),
        new Entry(ENOSPC, "ENOSPC", "No space left on device"),
        new Entry(ESPIPE, "ESPIPE", "Illegal seek"),
        new Entry(EROFS, "EROFS", "Read-only file system"),
        new Entry(EMLINK, "EMLINK", "Too many links"),
        new Entry(EPIPE, "EPIPE", "Broken pipe"),
        new Entry(ERANGE, "ERANGE", "Numerical result out of range"),
        new Entry(EDEADLK, "EDEADLK", "Resource deadlock avoided"),
        new Entry(ENAMETOOLONG, "ENAMETOOLONG", "File name too long"),
        new Entry(ENOSYS, "ENOSYS", "Function not implemented"),
        new Entry(ENOTEMPTY, "ENOTEMPTY", "Directory not empty"),
        new Entry(ELOOP, "ELOOP", "Too many levels of symbolic links"),
        new Entry(ENODATA, "ENODATA", "No data available"),
        new Entry(EOVERFLOW, "EOVERFLOW", "Value too large for defined data type"),
        new Entry(EBADMSG, "EBADMSG", "Bad message"),
        new Entry(EILSEQ, "EILSEQ", "Invalid or incomplete multibyte or wide character"),
        new Entry(EMSGSIZE, "EMSGSIZE", "Message too long"),
        new Entry(EOPNOTSUPP, "EOPNOTSUPP", "Operation not supported"),
        new Entry(ETIMEDOUT, "ETIMEDOUT", "Connection timed out"),
        new Entry(ESTALE, "ESTALE", "Stale file handle"),
        new Entry(EUCLEAN, "EUCLEAN", "Structure needs cleaning"),
        new Entry(EPROTO, "EPROTO", "Protocol error"),
        new Entry(ENOTCONN, "ENOTCONN", "Transport endpoint is not connected"),
        new Entry(EDQUOT, "EDQUOT", "Disk quota exceeded"),
        new Entry(ENOMEDIUM, "ENOMEDIUM", "No medium found"),
        new Entry(EMEDIUMTYPE, "EMEDIUMTYPE", "Wrong medium type"),
        new Entry(ECANCELED, "ECANCELED", "Operation canceled"),
        new Entry(ENOKEY, "ENOKEY", "Required key not available"),
        new Entry(EKEYREJECTED, "EKEYREJECTED", "Key was rejected by service"),
    };

    /** Every value with its name, for the header probe. */
    public static Map<String, Integer> all() {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (Entry e : TABLE) {
            m.put(e.name, e.value);
        }
        return m;
    }

    public static String name(int errno) {
        for (Entry e : TABLE) {
            if (e.value == errno) {
                return e.name;
            }
        }
        return "errno " + errno;
    }

    public static String description(int errno) {
        for (Entry e : TABLE) {
            if (e.value == errno) {
                return e.description;
            }
        }
        return "unknown error";
    }
}
