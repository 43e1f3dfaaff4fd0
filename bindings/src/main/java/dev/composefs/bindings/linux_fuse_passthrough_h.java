package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * linux/fuse.h from protocol 7.40 (kernel 6.9): passthrough, where the kernel reads an open
 * file's backing file itself. The probe checks these against headers that have them (Debian
 * 13's); where the host's are older it says so.
 */
@SuppressWarnings("checkstyle:TypeName")
public final class linux_fuse_passthrough_h {
    private linux_fuse_passthrough_h() {}

    /** A FUSE_INIT flag of the second word (flags2 bit 5). */
    public static final long FUSE_PASSTHROUGH = 1L << 37;
    public static final int FOPEN_PASSTHROUGH = 1 << 7;
    /** _IOW(229, 1, struct fuse_backing_map) */
    public static final long FUSE_DEV_IOC_BACKING_OPEN = 0x4010e501L;
    /** _IOW(229, 2, uint32_t) */
    public static final long FUSE_DEV_IOC_BACKING_CLOSE = 0x4004e502L;

    public static final StructLayout fuse_backing_map = MemoryLayout.structLayout(
            C_INT.withName("fd"),
            C_INT.withName("flags"),
            C_LONG.withName("padding")).withName("fuse_backing_map");

    private static final long FD = Native.offsetOf(fuse_backing_map, "fd");

    /** fuse_open_out as 7.40 names it: the backing file's id where 7.38 has padding. */
    public static final StructLayout fuse_open_out = renamed(linux_fuse_h.fuse_open_out, "padding",
            C_INT.withName("backing_id"));

    /** fuse_init_out as 7.40 names it: how deep a passthrough file's stack of filesystems may be, where 7.38 has unused[7]. */
    public static final StructLayout fuse_init_out = renamed(linux_fuse_h.fuse_init_out, "unused",
            C_INT.withName("max_stack_depth"), MemoryLayout.paddingLayout(24));

    /** struct with its member named member replaced by replacements (of the same size in all). */
    private static StructLayout renamed(StructLayout struct, String member, MemoryLayout... replacements) {
        List<MemoryLayout> members = new ArrayList<>();
        for (MemoryLayout m : struct.memberLayouts()) {
            if (m.name().orElse("").equals(member)) {
                members.addAll(List.of(replacements));
            } else {
                members.add(m);
            }
        }
        return MemoryLayout.structLayout(members.toArray(MemoryLayout[]::new)).withName(struct.name().orElseThrow());
    }

    /**
     * FUSE_DEV_IOC_BACKING_OPEN: registers fd as a backing file of the connection devFd; the id
     * goes in an OPEN reply. Needs CAP_SYS_ADMIN in the initial user namespace.
     */
    public static int backingOpen(int devFd, int fd, String path) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = arena.allocate(fuse_backing_map);
            map.set(C_INT, FD, fd);
            return sys_ioctl_h.ioctl(devFd, FUSE_DEV_IOC_BACKING_OPEN, map, "FUSE_DEV_IOC_BACKING_OPEN", path);
        }
    }

    /** FUSE_DEV_IOC_BACKING_CLOSE: releases a backing id. */
    public static void backingClose(int devFd, int id) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arg = arena.allocate(C_INT);
            arg.set(C_INT, 0, id);
            sys_ioctl_h.ioctl(devFd, FUSE_DEV_IOC_BACKING_CLOSE, arg, "FUSE_DEV_IOC_BACKING_CLOSE", String.valueOf(id));
        }
    }
}
