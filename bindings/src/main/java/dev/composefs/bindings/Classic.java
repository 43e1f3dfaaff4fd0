package dev.composefs.bindings;

/**
 * The classic calls the bindings make through syscall(2) rather than through their libc
 * wrappers. Each wrapper has its own signature and so its own downcall stub, spun at first use
 * (a cold-store ingest would link over a dozen of them, a large part of its start-up); through
 * syscall(2) they all share one. The numbers differ by architecture: x86-64 has its own table,
 * arm64, riscv64 and loongarch64 share the generic one (LayoutProbeTest checks both columns
 * against the kernel's headers). Elsewhere, or with the system property
 * {@code composefs.syscalls=libc} (the tests run the smoke tests that way too), every call goes
 * through its libc wrapper.
 */
enum Classic {
    read(0, 63),
    write(1, 64),
    close(3, 57),
    lseek(8, 62),
    ioctl(16, 29),
    pread64(17, 67),
    fcntl(72, 25),
    flock(73, 32),
    fsync(74, 82),
    ftruncate(77, 46),
    fchmod(91, 52),
    mount(165, 40),
    umount2(166, 39),
    lsetxattr(189, 6),
    getxattr(191, 8),
    lgetxattr(192, 9),
    fgetxattr(193, 10),
    listxattr(194, 11),
    llistxattr(195, 12),
    flistxattr(196, 13),
    lremovexattr(198, 15),
    getdents64(217, 61),
    openat(257, 56),
    mkdirat(258, 34),
    mknodat(259, 33),
    unlinkat(263, 35),
    linkat(265, 37),
    readlinkat(267, 78),
    unshare(272, 97),
    syncfs(306, 267),
    setns(308, 268),
    renameat2(316, 276),
    memfd_create(319, 279),
    copy_file_range(326, 285),
    statx(332, 291);

    /** Whether the calls go through syscall(2); if not, each goes through its libc wrapper and {@link #number} is unused. */
    static final boolean RAW = Table.COLUMN >= 0 && !"libc".equals(System.getProperty("composefs.syscalls"));

    /** x86-64's number and the generic table's. */
    final long x8664;
    final long generic;
    /** This architecture's number, -1 where no table is known. */
    final long number;

    Classic(long x8664, long generic) {
        this.x8664 = x8664;
        this.generic = generic;
        this.number = Table.COLUMN == 0 ? x8664 : Table.COLUMN == 1 ? generic : -1;
    }

    /** Which column this architecture uses: 0 x86-64, 1 generic, -1 none known. */
    static final class Table {
        private Table() {}

        static final int COLUMN = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 0;
            case "aarch64", "riscv64", "loongarch64" -> 1;
            default -> -1;
        };
    }
}
