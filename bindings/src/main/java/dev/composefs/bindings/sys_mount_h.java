package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_POINTER;
import static dev.composefs.bindings.unistd_h.addr;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/** sys/mount.h (and linux/mount.h): mount(2), umount2(2) and the new mount API. */
public final class sys_mount_h {
    private sys_mount_h() {}

    // mount(2) flags
    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOEXEC = 8;
    public static final long MS_REMOUNT = 32;
    public static final long MS_NOATIME = 1024;
    public static final long MS_NODIRATIME = 2048;
    public static final long MS_SILENT = 32768;
    public static final long MS_BIND = 4096;
    public static final long MS_MOVE = 8192;
    public static final long MS_REC = 16384;
    public static final long MS_PRIVATE = 1 << 18;
    public static final long MS_SLAVE = 1 << 19;
    public static final long MS_SHARED = 1 << 20;

    // umount2(2) flags
    public static final int MNT_FORCE = 1;
    public static final int MNT_DETACH = 2;
    public static final int UMOUNT_NOFOLLOW = 8;

    public static final int FSOPEN_CLOEXEC = 1;
    public static final int FSPICK_CLOEXEC = 1;
    public static final int FSPICK_SYMLINK_NOFOLLOW = 2;
    public static final int FSPICK_NO_AUTOMOUNT = 4;
    public static final int FSPICK_EMPTY_PATH = 8;

    public static final int FSCONFIG_SET_FLAG = 0;
    public static final int FSCONFIG_SET_STRING = 1;
    public static final int FSCONFIG_SET_BINARY = 2;
    public static final int FSCONFIG_SET_PATH = 3;
    public static final int FSCONFIG_SET_PATH_EMPTY = 4;
    public static final int FSCONFIG_SET_FD = 5;
    public static final int FSCONFIG_CMD_CREATE = 6;
    public static final int FSCONFIG_CMD_RECONFIGURE = 7;

    public static final int FSMOUNT_CLOEXEC = 1;

    public static final long MOUNT_ATTR_RDONLY = 0x00000001;
    public static final long MOUNT_ATTR_NOSUID = 0x00000002;
    public static final long MOUNT_ATTR_NODEV = 0x00000004;
    public static final long MOUNT_ATTR_NOEXEC = 0x00000008;
    public static final long MOUNT_ATTR__ATIME = 0x00000070;
    public static final long MOUNT_ATTR_RELATIME = 0x00000000;
    public static final long MOUNT_ATTR_NOATIME = 0x00000010;
    public static final long MOUNT_ATTR_STRICTATIME = 0x00000020;
    public static final long MOUNT_ATTR_NODIRATIME = 0x00000080;
    public static final long MOUNT_ATTR_IDMAP = 0x00100000;
    public static final long MOUNT_ATTR_NOSYMFOLLOW = 0x00200000;
    public static final int MOUNT_ATTR_SIZE_VER0 = 32;

    public static final int MOVE_MOUNT_F_SYMLINKS = 0x00000001;
    public static final int MOVE_MOUNT_F_AUTOMOUNTS = 0x00000002;
    public static final int MOVE_MOUNT_F_EMPTY_PATH = 0x00000004;
    public static final int MOVE_MOUNT_T_SYMLINKS = 0x00000010;
    public static final int MOVE_MOUNT_T_AUTOMOUNTS = 0x00000020;
    public static final int MOVE_MOUNT_T_EMPTY_PATH = 0x00000040;

    public static final int OPEN_TREE_CLONE = 1;
    public static final int OPEN_TREE_CLOEXEC = fcntl_h.O_CLOEXEC;

    /** struct mount_attr (linux/mount.h). */
    public static final StructLayout mount_attr = MemoryLayout.structLayout(
            C_LONG.withName("attr_set"),
            C_LONG.withName("attr_clr"),
            C_LONG.withName("propagation"),
            C_LONG.withName("userns_fd")).withName("mount_attr");

    private static final long MA_SET = Native.offsetOf(mount_attr, "attr_set");
    private static final long MA_CLR = Native.offsetOf(mount_attr, "attr_clr");
    private static final long MA_PROP = Native.offsetOf(mount_attr, "propagation");
    private static final long MA_USERNS = Native.offsetOf(mount_attr, "userns_fd");

    // The libc wrappers, used only where Classic.RAW is false (see there).
    private static final class mount {
        static final MethodHandle HANDLE = Native.downcall("mount",
                FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_LONG, C_POINTER));
    }

    private static final class umount2 {
        static final MethodHandle HANDLE = Native.downcall("umount2",
                FunctionDescriptor.of(C_INT, C_POINTER, C_INT));
    }

    public static void mount(String source, String target, String fstype, long flags, String data)
            throws SyscallException {
        String what = target + (fstype != null ? " -t " + fstype : "") + (data != null ? " -o " + data : "");
        Native.call("mount", what, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.mount.number, str(a, source).address(), str(a, target).address(),
                        str(a, fstype).address(), flags, str(a, data).address(), 0)
                : (int) mount.HANDLE.invokeExact(st, str(a, source), str(a, target), str(a, fstype), flags, str(a, data)));
    }

    public static void umount2(String target, int flags) throws SyscallException {
        Native.call("umount2", target, (st, a) -> Classic.RAW
                ? unistd_h.syscall6(st, Classic.umount2.number, Native.cstr(a, target).address(), flags, 0, 0, 0, 0)
                : (int) umount2.HANDLE.invokeExact(st, Native.cstr(a, target), flags));
    }

    public static int fsopen(String fsName, int flags) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            return (int) unistd_h.syscall("fsopen", fsName, unistd_h.SYS_fsopen,
                    addr(Native.cstr(arena, fsName)), flags);
        }
    }

    public static int fspick(int dfd, String path, int flags) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            return (int) unistd_h.syscall("fspick", path, unistd_h.SYS_fspick, dfd,
                    addr(Native.cstr(arena, path)), flags);
        }
    }

    /** fsconfig(2) with a string value (FSCONFIG_SET_STRING/PATH), a flag, or a command. */
    public static void fsconfig(int fsfd, int cmd, String key, String value, int aux) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            String what = key == null ? fsconfigCommandName(cmd) : (value == null ? key : key + "=" + value);
            unistd_h.syscall("fsconfig", what, unistd_h.SYS_fsconfig, fsfd, cmd,
                    key == null ? 0 : addr(Native.cstr(arena, key)),
                    value == null ? 0 : addr(Native.cstr(arena, value)), aux);
        }
    }

    /** fsconfig(2) with FSCONFIG_SET_FD: the value is carried in aux. */
    public static void fsconfigFd(int fsfd, String key, int fd) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            unistd_h.syscall("fsconfig", key + "=fd " + fd, unistd_h.SYS_fsconfig, fsfd, FSCONFIG_SET_FD,
                    addr(Native.cstr(arena, key)), 0, fd);
        }
    }

    /** fsconfig(2) with FSCONFIG_SET_BINARY. */
    public static void fsconfigBinary(int fsfd, String key, byte[] value) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(Math.max(1, value.length));
            Native.copy(value, 0, v, 0, value.length);
            unistd_h.syscall("fsconfig", key + "=<" + value.length + " bytes>", unistd_h.SYS_fsconfig, fsfd,
                    FSCONFIG_SET_BINARY, addr(Native.cstr(arena, key)), addr(v), value.length);
        }
    }

    public static String fsconfigCommandName(int cmd) {
        return switch (cmd) {
            case FSCONFIG_CMD_CREATE -> "FSCONFIG_CMD_CREATE";
            case FSCONFIG_CMD_RECONFIGURE -> "FSCONFIG_CMD_RECONFIGURE";
            default -> "FSCONFIG cmd " + cmd;
        };
    }

    public static int fsmount(int fsfd, int flags, long attrFlags) throws SyscallException {
        return (int) unistd_h.syscall("fsmount", "fd " + fsfd, unistd_h.SYS_fsmount, fsfd, flags, attrFlags);
    }

    public static void moveMount(int fromDfd, String fromPath, int toDfd, String toPath, int flags)
            throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            unistd_h.syscall("move_mount", toPath, unistd_h.SYS_move_mount, fromDfd,
                    addr(Native.cstr(arena, fromPath)), toDfd, addr(Native.cstr(arena, toPath)), flags);
        }
    }

    public static int openTree(int dfd, String path, int flags) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            return (int) unistd_h.syscall("open_tree", path, unistd_h.SYS_open_tree, dfd,
                    addr(Native.cstr(arena, path)), flags);
        }
    }

    public static void mountSetattr(int dfd, String path, int flags, long attrSet, long attrClr, long propagation,
            long usernsFd) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(mount_attr);
            attr.set(C_LONG, MA_SET, attrSet);
            attr.set(C_LONG, MA_CLR, attrClr);
            attr.set(C_LONG, MA_PROP, propagation);
            attr.set(C_LONG, MA_USERNS, usernsFd);
            unistd_h.syscall("mount_setattr", path.isEmpty() ? "fd " + dfd : path, unistd_h.SYS_mount_setattr, dfd,
                    addr(Native.cstr(arena, path)), flags, addr(attr), mount_attr.byteSize());
        }
    }

    private static MemorySegment str(SegmentAllocator arena, String s) {
        return s == null ? MemorySegment.NULL : Native.cstr(arena, s);
    }
}
