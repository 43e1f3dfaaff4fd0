package dev.composefs.core.fuse;

import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.linux_fuse_passthrough_h;
import dev.composefs.bindings.unistd_h;
import dev.composefs.core.fsverity.FdDigester;
import dev.composefs.core.tree.RegularFile;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The store objects behind an image's files: found in the basedirs in order (beneath each, no
 * symlinks, no magic links), checked once per object for the mount's life where verity is
 * asked, and, with passthrough, registered with the kernel once per open inode so that its
 * reads go straight to the object and share its page cache.
 */
final class ObjectFiles implements AutoCloseable {
    /** Why an object cannot be served: its file's reads fail with EIO. */
    static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private final int[] dirFds;
    private final boolean verity;
    private final PrintStream log;
    /** Objects whose digest was checked: true, or the reason they are refused. */
    private final ConcurrentHashMap<String, Object> checked = new ConcurrentHashMap<>();
    /** Backing ids of inodes, with how many opens use each. */
    private final ConcurrentHashMap<Long, Backing> backing = new ConcurrentHashMap<>();

    ObjectFiles(List<Path> basedirs, boolean verity, PrintStream log) throws SyscallException {
        this.verity = verity;
        this.log = log;
        this.dirFds = new int[basedirs.size()];
        try {
            for (int i = 0; i < dirFds.length; i++) {
                dirFds[i] = fcntl_h.openat(fcntl_h.AT_FDCWD, basedirs.get(i).toString(),
                        fcntl_h.O_RDONLY | fcntl_h.O_DIRECTORY | fcntl_h.O_CLOEXEC, 0);
            }
        } catch (SyscallException e) {
            close();
            throw e;
        }
    }

    /** Opens the object of f for reading (a descriptor the caller closes), checked where verity is asked. */
    int open(Scratch scratch, RegularFile f) throws IOException {
        String payload = f.payload();
        byte[] path = payload.getBytes(StandardCharsets.ISO_8859_1);
        int fd = -1;
        SyscallException first = null;
        for (int dir : dirFds) {
            try {
                fd = fcntl_h.openat2(scratch, dir, path, fcntl_h.O_RDONLY | fcntl_h.O_CLOEXEC, 0,
                        fcntl_h.RESOLVE_BENEATH | fcntl_h.RESOLVE_NO_MAGICLINKS | fcntl_h.RESOLVE_NO_SYMLINKS);
                break;
            } catch (SyscallException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (fd < 0) {
            throw refuse(payload, "object " + payload + " is in no basedir (" + first.getMessage() + ")");
        }
        if (verity) {
            try {
                check(fd, f, payload);
            } catch (IOException e) {
                unistd_h.closeQuietly(fd);
                throw e;
            }
        }
        return fd;
    }

    private void check(int fd, RegularFile f, String payload) throws IOException {
        Object known = checked.get(payload);
        if (known == Boolean.TRUE) {
            return;
        }
        if (known instanceof String reason) {
            throw new Refused(reason);
        }
        if (f.digest() == null) {
            throw refuse(payload, "object " + payload + ": verity is asked, but the image gives no digest for it");
        }
        byte[] digest = FdDigester.measured(fd, payload);
        String how = "FS_IOC_MEASURE_VERITY";
        if (digest == null) {
            try (FdDigester dg = new FdDigester()) {
                digest = dg.digest(fd, 0, payload).digest();
            }
            how = "its content";
        }
        if (!Arrays.equals(digest, f.digest())) {
            throw refuse(payload, "object " + payload + ": fs-verity digest " + HexFormat.of().formatHex(digest)
                    + " (from " + how + ") is not the image's " + HexFormat.of().formatHex(f.digest()));
        }
        checked.put(payload, Boolean.TRUE);
    }

    /** Records why an object is refused and says so once; the exception to throw. */
    private Refused refuse(String payload, String reason) {
        if (checked.putIfAbsent(payload, reason) == null) {
            log.println("composefs-fuse: " + reason + ": reads of it fail with EIO");
        }
        return new Refused(reason);
    }

    /** An inode's backing id while opens hold it; locked alone, so opens of other inodes never wait. */
    private static final class Backing {
        int id;
        int opens;
    }

    /**
     * The backing id of inode ino on connection dev, registering fd as its backing file if no
     * open of the inode holds one; every open of one inode must use the same one.
     */
    int backingOpen(int dev, long ino, int fd, String what) throws SyscallException {
        Backing b = backing.computeIfAbsent(ino, k -> new Backing());
        synchronized (b) {
            if (b.opens == 0) {
                b.id = linux_fuse_passthrough_h.backingOpen(dev, fd, what);
            }
            b.opens++;
            return b.id;
        }
    }

    /** One open of ino ended: its backing id is released with the last. */
    void backingRelease(int dev, long ino) {
        Backing b = backing.get(ino);
        if (b == null) {
            return;
        }
        synchronized (b) {
            if (b.opens > 0 && --b.opens == 0) {
                try {
                    linux_fuse_passthrough_h.backingClose(dev, b.id);
                } catch (SyscallException e) {
                    log.println("composefs-fuse: " + e.getMessage());
                }
            }
        }
    }

    @Override
    public void close() {
        for (int fd : dirFds) {
            if (fd > 0) {
                unistd_h.closeQuietly(fd);
            }
        }
    }
}
