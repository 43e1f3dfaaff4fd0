package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_LONG;
import static dev.composefs.bindings.Native.C_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * linux/fuse.h, protocol 7.38 (what Debian 12's headers carry): the opcodes, flags and structs a
 * read-only server reads from and writes to /dev/fuse. The passthrough additions of 7.40 are in
 * {@link linux_fuse_passthrough_h}.
 */
@SuppressWarnings("checkstyle:TypeName")
public final class linux_fuse_h {
    private linux_fuse_h() {}

    public static final int FUSE_KERNEL_VERSION = 7;
    public static final long FUSE_ROOT_ID = 1;
    public static final int FUSE_MIN_READ_BUFFER = 8192;

    public static final int FUSE_LOOKUP = 1;
    public static final int FUSE_FORGET = 2;
    public static final int FUSE_GETATTR = 3;
    public static final int FUSE_READLINK = 5;
    public static final int FUSE_OPEN = 14;
    public static final int FUSE_READ = 15;
    public static final int FUSE_STATFS = 17;
    public static final int FUSE_RELEASE = 18;
    public static final int FUSE_GETXATTR = 22;
    public static final int FUSE_LISTXATTR = 23;
    public static final int FUSE_FLUSH = 25;
    public static final int FUSE_INIT = 26;
    public static final int FUSE_OPENDIR = 27;
    public static final int FUSE_READDIR = 28;
    public static final int FUSE_RELEASEDIR = 29;
    public static final int FUSE_ACCESS = 34;
    public static final int FUSE_INTERRUPT = 36;
    public static final int FUSE_DESTROY = 38;
    public static final int FUSE_BATCH_FORGET = 42;
    public static final int FUSE_READDIRPLUS = 44;
    public static final int FUSE_LSEEK = 46;

    // FUSE_INIT flags
    public static final int FUSE_ASYNC_READ = 1 << 0;
    public static final int FUSE_EXPORT_SUPPORT = 1 << 4;
    public static final int FUSE_DO_READDIRPLUS = 1 << 13;
    public static final int FUSE_READDIRPLUS_AUTO = 1 << 14;
    public static final int FUSE_PARALLEL_DIROPS = 1 << 18;
    public static final int FUSE_POSIX_ACL = 1 << 20;
    public static final int FUSE_MAX_PAGES = 1 << 22;
    public static final int FUSE_CACHE_SYMLINKS = 1 << 23;
    public static final int FUSE_NO_OPENDIR_SUPPORT = 1 << 24;
    public static final int FUSE_INIT_EXT = 1 << 30;

    // fuse_open_out.open_flags
    public static final int FOPEN_KEEP_CACHE = 1 << 1;
    public static final int FOPEN_CACHE_DIR = 1 << 3;
    public static final int FOPEN_NOFLUSH = 1 << 5;

    public static final StructLayout fuse_in_header = MemoryLayout.structLayout(
            C_INT.withName("len"),
            C_INT.withName("opcode"),
            C_LONG.withName("unique"),
            C_LONG.withName("nodeid"),
            C_INT.withName("uid"),
            C_INT.withName("gid"),
            C_INT.withName("pid"),
            C_SHORT.withName("total_extlen"),
            C_SHORT.withName("padding")).withName("fuse_in_header");

    public static final StructLayout fuse_out_header = MemoryLayout.structLayout(
            C_INT.withName("len"),
            C_INT.withName("error"),
            C_LONG.withName("unique")).withName("fuse_out_header");

    public static final StructLayout fuse_init_in = MemoryLayout.structLayout(
            C_INT.withName("major"),
            C_INT.withName("minor"),
            C_INT.withName("max_readahead"),
            C_INT.withName("flags"),
            C_INT.withName("flags2"),
            MemoryLayout.sequenceLayout(11, C_INT).withName("unused")).withName("fuse_init_in");

    public static final StructLayout fuse_init_out = MemoryLayout.structLayout(
            C_INT.withName("major"),
            C_INT.withName("minor"),
            C_INT.withName("max_readahead"),
            C_INT.withName("flags"),
            C_SHORT.withName("max_background"),
            C_SHORT.withName("congestion_threshold"),
            C_INT.withName("max_write"),
            C_INT.withName("time_gran"),
            C_SHORT.withName("max_pages"),
            C_SHORT.withName("map_alignment"),
            C_INT.withName("flags2"),
            MemoryLayout.sequenceLayout(7, C_INT).withName("unused")).withName("fuse_init_out");

    public static final StructLayout fuse_attr = MemoryLayout.structLayout(
            C_LONG.withName("ino"),
            C_LONG.withName("size"),
            C_LONG.withName("blocks"),
            C_LONG.withName("atime"),
            C_LONG.withName("mtime"),
            C_LONG.withName("ctime"),
            C_INT.withName("atimensec"),
            C_INT.withName("mtimensec"),
            C_INT.withName("ctimensec"),
            C_INT.withName("mode"),
            C_INT.withName("nlink"),
            C_INT.withName("uid"),
            C_INT.withName("gid"),
            C_INT.withName("rdev"),
            C_INT.withName("blksize"),
            C_INT.withName("flags")).withName("fuse_attr");

    public static final StructLayout fuse_entry_out = MemoryLayout.structLayout(
            C_LONG.withName("nodeid"),
            C_LONG.withName("generation"),
            C_LONG.withName("entry_valid"),
            C_LONG.withName("attr_valid"),
            C_INT.withName("entry_valid_nsec"),
            C_INT.withName("attr_valid_nsec"),
            fuse_attr.withName("attr")).withName("fuse_entry_out");

    public static final StructLayout fuse_attr_out = MemoryLayout.structLayout(
            C_LONG.withName("attr_valid"),
            C_INT.withName("attr_valid_nsec"),
            C_INT.withName("dummy"),
            fuse_attr.withName("attr")).withName("fuse_attr_out");

    public static final StructLayout fuse_open_out = MemoryLayout.structLayout(
            C_LONG.withName("fh"),
            C_INT.withName("open_flags"),
            C_INT.withName("padding")).withName("fuse_open_out");

    public static final StructLayout fuse_read_in = MemoryLayout.structLayout(
            C_LONG.withName("fh"),
            C_LONG.withName("offset"),
            C_INT.withName("size"),
            C_INT.withName("read_flags"),
            C_LONG.withName("lock_owner"),
            C_INT.withName("flags"),
            C_INT.withName("padding")).withName("fuse_read_in");

    public static final StructLayout fuse_release_in = MemoryLayout.structLayout(
            C_LONG.withName("fh"),
            C_INT.withName("flags"),
            C_INT.withName("release_flags"),
            C_LONG.withName("lock_owner")).withName("fuse_release_in");

    public static final StructLayout fuse_getxattr_in = MemoryLayout.structLayout(
            C_INT.withName("size"),
            C_INT.withName("padding")).withName("fuse_getxattr_in");

    public static final StructLayout fuse_getxattr_out = MemoryLayout.structLayout(
            C_INT.withName("size"),
            C_INT.withName("padding")).withName("fuse_getxattr_out");

    /** Followed by namelen bytes of name, the record padded to 8 bytes. */
    public static final StructLayout fuse_dirent = MemoryLayout.structLayout(
            C_LONG.withName("ino"),
            C_LONG.withName("off"),
            C_INT.withName("namelen"),
            C_INT.withName("type")).withName("fuse_dirent");

    public static final StructLayout fuse_direntplus = MemoryLayout.structLayout(
            fuse_entry_out.withName("entry_out"),
            fuse_dirent.withName("dirent")).withName("fuse_direntplus");

    public static final StructLayout fuse_kstatfs = MemoryLayout.structLayout(
            C_LONG.withName("blocks"),
            C_LONG.withName("bfree"),
            C_LONG.withName("bavail"),
            C_LONG.withName("files"),
            C_LONG.withName("ffree"),
            C_INT.withName("bsize"),
            C_INT.withName("namelen"),
            C_INT.withName("frsize"),
            C_INT.withName("padding"),
            MemoryLayout.sequenceLayout(6, C_INT).withName("spare")).withName("fuse_kstatfs");

    public static final StructLayout fuse_lseek_in = MemoryLayout.structLayout(
            C_LONG.withName("fh"),
            C_LONG.withName("offset"),
            C_INT.withName("whence"),
            C_INT.withName("padding")).withName("fuse_lseek_in");

    public static final StructLayout fuse_lseek_out = MemoryLayout.structLayout(
            C_LONG.withName("offset")).withName("fuse_lseek_out");
}
