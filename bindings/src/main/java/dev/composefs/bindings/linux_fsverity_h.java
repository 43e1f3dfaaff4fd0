package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/** linux/fsverity.h: enabling fs-verity on a file and reading its digest back from the kernel. */
public final class linux_fsverity_h {
    private linux_fsverity_h() {}

    public static final int FS_VERITY_HASH_ALG_SHA256 = 1;
    public static final int FS_VERITY_HASH_ALG_SHA512 = 2;
    /** _IOW('f', 133, struct fsverity_enable_arg) */
    public static final long FS_IOC_ENABLE_VERITY = 0x40806685L;
    /** _IOWR('f', 134, struct fsverity_digest) */
    public static final long FS_IOC_MEASURE_VERITY = 0xc0046686L;

    /** struct fsverity_enable_arg. */
    public static final StructLayout fsverity_enable_arg = MemoryLayout.structLayout(
            C_INT.withName("version"),
            C_INT.withName("hash_algorithm"),
            C_INT.withName("block_size"),
            C_INT.withName("salt_size"),
            C_LONG.withName("salt_ptr"),
            C_INT.withName("sig_size"),
            C_INT.withName("__reserved1"),
            C_LONG.withName("sig_ptr"),
            MemoryLayout.sequenceLayout(11, C_LONG).withName("__reserved2")).withName("fsverity_enable_arg");

    /** struct fsverity_digest: a header followed by digest_size bytes (flexible array). */
    public static final StructLayout fsverity_digest = MemoryLayout.structLayout(
            C_SHORT.withName("digest_algorithm"),
            C_SHORT.withName("digest_size")).withName("fsverity_digest");

    private static final long EA_VERSION = Native.offsetOf(fsverity_enable_arg, "version");
    private static final long EA_HASH = Native.offsetOf(fsverity_enable_arg, "hash_algorithm");
    private static final long EA_BLOCK = Native.offsetOf(fsverity_enable_arg, "block_size");
    private static final long EA_SIG_SIZE = Native.offsetOf(fsverity_enable_arg, "sig_size");
    private static final long EA_SIG_PTR = Native.offsetOf(fsverity_enable_arg, "sig_ptr");
    private static final long FD_ALG = Native.offsetOf(fsverity_digest, "digest_algorithm");
    private static final long FD_SIZE = Native.offsetOf(fsverity_digest, "digest_size");

    private static final int MAX_DIGEST = 64;

    /** FS_IOC_ENABLE_VERITY with sha256, 4096-byte blocks, no salt, no signature (composefs' choice). */
    public static void enableVerity(int fd, String path) throws SyscallException {
        enableVerity(fd, path, null);
    }

    /**
     * FS_IOC_ENABLE_VERITY with sha256, 4096-byte blocks, no salt, and a built-in signature (DER
     * PKCS#7, at most 16128 bytes) where signature is not null; the kernel checks it against the
     * .fs-verity keyring (ENOKEY: signer not there, EKEYREJECTED: signature does not verify).
     */
    public static void enableVerity(int fd, String path, byte[] signature) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arg = arena.allocate(fsverity_enable_arg); // zeroed: no salt
            arg.set(C_INT, EA_VERSION, 1);
            arg.set(C_INT, EA_HASH, FS_VERITY_HASH_ALG_SHA256);
            arg.set(C_INT, EA_BLOCK, 4096);
            if (signature != null) {
                MemorySegment sig = arena.allocate(Math.max(1, signature.length));
                Native.copy(signature, 0, sig, 0, signature.length);
                arg.set(C_INT, EA_SIG_SIZE, signature.length);
                arg.set(C_LONG, EA_SIG_PTR, sig.address());
            }
            sys_ioctl_h.ioctl(fd, FS_IOC_ENABLE_VERITY, arg, "FS_IOC_ENABLE_VERITY", path);
        }
    }

    /** _IOWR('f', 135, struct fsverity_read_metadata_arg) */
    public static final long FS_IOC_READ_VERITY_METADATA = 0xc0286687L;
    public static final int FS_VERITY_METADATA_TYPE_SIGNATURE = 3;

    /** struct fsverity_read_metadata_arg. */
    public static final StructLayout fsverity_read_metadata_arg = MemoryLayout.structLayout(
            C_LONG.withName("metadata_type"),
            C_LONG.withName("offset"),
            C_LONG.withName("length"),
            C_LONG.withName("buf_ptr"),
            C_LONG.withName("__reserved")).withName("fsverity_read_metadata_arg");

    /** The built-in signature stored with a file's fs-verity metadata (FS_IOC_READ_VERITY_METADATA); ENODATA if none. */
    public static byte[] readSignature(int fd, String path) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(16384);
            MemorySegment arg = arena.allocate(fsverity_read_metadata_arg);
            arg.set(C_LONG, 0, FS_VERITY_METADATA_TYPE_SIGNATURE);
            arg.set(C_LONG, 16, buf.byteSize());
            arg.set(C_LONG, 24, buf.address());
            int n = sys_ioctl_h.ioctl(fd, FS_IOC_READ_VERITY_METADATA, arg, "FS_IOC_READ_VERITY_METADATA", path);
            return Native.toBytes(buf, n);
        }
    }

    /** FS_IOC_MEASURE_VERITY: the file's fs-verity digest as the kernel enforces it. */
    public static Measurement measureVerity(int fd, String path) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment arg = arena.allocate(fsverity_digest.byteSize() + MAX_DIGEST, 8);
            arg.set(C_SHORT, FD_SIZE, (short) MAX_DIGEST);
            sys_ioctl_h.ioctl(fd, FS_IOC_MEASURE_VERITY, arg, "FS_IOC_MEASURE_VERITY", path);
            int alg = Short.toUnsignedInt(arg.get(C_SHORT, FD_ALG));
            int size = Short.toUnsignedInt(arg.get(C_SHORT, FD_SIZE));
            byte[] digest = arg.asSlice(fsverity_digest.byteSize(), size).toArray(ValueLayout.JAVA_BYTE);
            return new Measurement(alg, digest);
        }
    }

    /** What FS_IOC_MEASURE_VERITY reports. */
    public record Measurement(int algorithm, byte[] digest) {}
}
