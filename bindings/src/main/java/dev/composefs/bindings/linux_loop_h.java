package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_CHAR;
import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

/** linux/loop.h: allocating, configuring and releasing loop devices. */
public final class linux_loop_h {
    private linux_loop_h() {}

    public static final long LOOP_SET_FD = 0x4C00;
    public static final long LOOP_CLR_FD = 0x4C01;
    public static final long LOOP_SET_STATUS64 = 0x4C04;
    public static final long LOOP_GET_STATUS64 = 0x4C05;
    public static final long LOOP_CONFIGURE = 0x4C0A;
    public static final long LOOP_CTL_ADD = 0x4C80;
    public static final long LOOP_CTL_REMOVE = 0x4C81;
    public static final long LOOP_CTL_GET_FREE = 0x4C82;

    public static final int LO_FLAGS_READ_ONLY = 1;
    public static final int LO_FLAGS_AUTOCLEAR = 4;
    public static final int LO_FLAGS_PARTSCAN = 8;
    public static final int LO_FLAGS_DIRECT_IO = 16;
    public static final int LO_NAME_SIZE = 64;
    public static final int LO_KEY_SIZE = 32;

    /** struct loop_info64. */
    public static final StructLayout loop_info64 = MemoryLayout.structLayout(
            C_LONG.withName("lo_device"),
            C_LONG.withName("lo_inode"),
            C_LONG.withName("lo_rdevice"),
            C_LONG.withName("lo_offset"),
            C_LONG.withName("lo_sizelimit"),
            C_INT.withName("lo_number"),
            C_INT.withName("lo_encrypt_type"),
            C_INT.withName("lo_encrypt_key_size"),
            C_INT.withName("lo_flags"),
            MemoryLayout.sequenceLayout(LO_NAME_SIZE, C_CHAR).withName("lo_file_name"),
            MemoryLayout.sequenceLayout(LO_NAME_SIZE, C_CHAR).withName("lo_crypt_name"),
            MemoryLayout.sequenceLayout(LO_KEY_SIZE, C_CHAR).withName("lo_encrypt_key"),
            MemoryLayout.sequenceLayout(2, C_LONG).withName("lo_init")).withName("loop_info64");

    /** struct loop_config. */
    public static final StructLayout loop_config = MemoryLayout.structLayout(
            C_INT.withName("fd"),
            C_INT.withName("block_size"),
            loop_info64.withName("info"),
            MemoryLayout.sequenceLayout(8, C_LONG).withName("__reserved")).withName("loop_config");

    private static final long LC_FD = Native.offsetOf(loop_config, "fd");
    private static final long LC_BLOCK = Native.offsetOf(loop_config, "block_size");
    private static final long LC_FLAGS = Native.offsetOf(loop_config, "info", "lo_flags");
    private static final long LC_FILE_NAME = Native.offsetOf(loop_config, "info", "lo_file_name");

    /** LOOP_CTL_GET_FREE on /dev/loop-control: the number of a free (possibly new) loop device. */
    public static int getFree(int controlFd) throws SyscallException {
        return sys_ioctl_h.ioctl(controlFd, LOOP_CTL_GET_FREE, 0L, "LOOP_CTL_GET_FREE", "/dev/loop-control");
    }

    /** LOOP_CONFIGURE: attaches backingFd and sets flags in one step (no window with a half-set device). */
    public static void configure(int loopFd, String loopPath, int backingFd, String backingName, int flags,
            int blockSize) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(loop_config);
            cfg.set(C_INT, LC_FD, backingFd);
            cfg.set(C_INT, LC_BLOCK, blockSize);
            cfg.set(C_INT, LC_FLAGS, flags);
            byte[] name = backingName.getBytes(StandardCharsets.UTF_8);
            int n = Math.min(name.length, LO_NAME_SIZE - 1);
            Native.copy(name, 0, cfg, LC_FILE_NAME, n);
            sys_ioctl_h.ioctl(loopFd, LOOP_CONFIGURE, cfg, "LOOP_CONFIGURE", loopPath);
        }
    }

    public static void clearFd(int loopFd, String loopPath) throws SyscallException {
        sys_ioctl_h.ioctl(loopFd, LOOP_CLR_FD, 0L, "LOOP_CLR_FD", loopPath);
    }
}
