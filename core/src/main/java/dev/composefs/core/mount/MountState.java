package dev.composefs.core.mount;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.unistd_h;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One mount in progress: the syscall layer, the notes it makes for -v, and the fds it opened,
 * all closed when the mount is done (after success only the overlay mount itself remains).
 */
final class MountState implements AutoCloseable {
    final MountCalls sys;
    private final Consumer<String> log;
    private final List<String> notes = new ArrayList<>();
    /** fds of this process's own files (image, memfds, namespaces, layer directories). */
    private final List<Integer> fds = new ArrayList<>();
    /** fds from fsopen/fsmount: the detached EROFS mount must stay open until the overlay holds it. */
    private final List<Integer> mountFds = new ArrayList<>();

    MountState(MountCalls sys, Consumer<String> log) {
        this.sys = sys;
        this.log = log;
    }

    void note(String s) {
        notes.add(s);
        log.accept(s);
    }

    List<String> notes() {
        return notes;
    }

    int keep(int fd) {
        fds.add(fd);
        return fd;
    }

    int keepMount(int fd) {
        mountFds.add(fd);
        return fd;
    }

    /**
     * dir itself where its path fits in max bytes, else /proc/self/fd/N of an O_PATH fd of it:
     * the kernel resolves that to the same directory, and it is short whatever the path.
     */
    String shortPath(Path dir, int max) throws MountException {
        String s = dir.toString();
        return s.getBytes(StandardCharsets.UTF_8).length <= max ? s : viaFd(dir);
    }

    /** /proc/self/fd/N of an O_PATH fd of dir, closed with the mount's other fds. */
    String viaFd(Path dir) throws MountException {
        try {
            return "/proc/self/fd/" + keep(fcntl_h.openat(fcntl_h.AT_FDCWD, dir.toString(),
                    fcntl_h.O_PATH | fcntl_h.O_DIRECTORY | fcntl_h.O_CLOEXEC, 0));
        } catch (SyscallException e) {
            throw MountException.failed("cannot open layer directory " + dir + ": " + e.getMessage(), e);
        }
    }

    void closeMount(int fd) {
        if (fd >= 0) {
            sys.close(fd);
        }
    }

    @Override
    public void close() {
        mountFds.forEach(sys::close);
        mountFds.clear();
        fds.forEach(unistd_h::closeQuietly);
        fds.clear();
    }
}
