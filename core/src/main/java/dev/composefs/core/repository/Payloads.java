package dev.composefs.core.repository;

import static dev.composefs.bindings.fcntl_h.O_CLOEXEC;
import static dev.composefs.bindings.fcntl_h.O_NONBLOCK;
import static dev.composefs.bindings.fcntl_h.O_RDONLY;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_stat_h;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Where a redirect payload leads in a store, as overlayfs resolves it in a data-only layer: a
 * lookup beneath the layer's root that follows no symlinks and crosses no mount (LOOKUP_BENEATH,
 * LOOKUP_NO_SYMLINKS, LOOKUP_NO_XDEV). So "./07/x", "07/./x" and "07//x" all reach "07/x", a
 * ".." that leaves the store reaches nothing, and a symlink in the store is never an object.
 */
public final class Payloads {
    private Payloads() {}

    /** The canonical store-relative path of payload ("07/x"), or null where it leaves the store or names its root. */
    public static String normalize(String payload) {
        Deque<String> parts = new ArrayDeque<>();
        for (String part : payload.split("/", -1)) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (parts.isEmpty()) {
                    return null;
                }
                parts.removeLast();
            } else {
                parts.addLast(part);
            }
        }
        return parts.isEmpty() ? null : String.join("/", parts);
    }

    /**
     * Opens the object a normalized payload names beneath the store directory storeFd, as the
     * kernel would reach it (openat2 RESOLVE_BENEATH | NO_SYMLINKS | NO_XDEV); -1 where that
     * reaches no regular file. The caller closes the fd.
     */
    public static int open(int storeFd, String normalized) {
        try {
            int fd = fcntl_h.openat2(storeFd, normalized.getBytes(StandardCharsets.ISO_8859_1),
                    O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0,
                    fcntl_h.RESOLVE_BENEATH | fcntl_h.RESOLVE_NO_SYMLINKS | fcntl_h.RESOLVE_NO_XDEV);
            if (sys_stat_h.statx(null, fd, sys_stat_h.STATX_TYPE).type() == sys_stat_h.S_IFREG) {
                return fd;
            }
            dev.composefs.bindings.unistd_h.closeQuietly(fd);
            return -1;
        } catch (SyscallException e) {
            return -1;
        }
    }
}
