package dev.composefs.core.mount;

import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.fcntl_h;
import dev.composefs.bindings.sys_mount_h;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A syscall layer that mounts nothing: it records each call as a line (fds it hands out count
 * from 1000; the process's own fds appear as {@code <fd>}), can fail one chosen call, and keeps
 * what a real kernel would read from a {@code /proc/self/fd/N} source at the moment of the call.
 */
final class RecordingCalls implements MountCalls {
    final List<String> calls = new ArrayList<>();
    private int next = 1000;
    private final String failing;
    private final int failErrno;
    /** Contents and seals of every /proc/self/fd/N given as "source", in call order. */
    final List<byte[]> sources = new ArrayList<>();
    final List<Integer> sourceSeals = new ArrayList<>();

    RecordingCalls() {
        this(null, 0);
    }

    /** Fails the first call whose line starts with {@code failing}, with errno. */
    RecordingCalls(String failing, int errno) {
        this.failing = failing;
        this.failErrno = errno;
    }

    private void record(String line) throws SyscallException {
        String normalized = line.replaceAll("/proc/self/fd/([0-9]{1,3})(?![0-9])", "/proc/self/fd/<fd>");
        calls.add(normalized);
        if (failing != null && normalized.startsWith(failing) && calls.stream().filter(c -> c.startsWith(failing))
                .count() == 1) {
            throw new SyscallException(normalized.split(" ")[0], "recorded", failErrno);
        }
    }

    @Override
    public int fsopen(String fsName, int flags) throws SyscallException {
        record("fsopen " + fsName + " " + flags);
        return next++;
    }

    @Override
    public void fsconfig(int fsfd, int cmd, String key, String value, int aux) throws SyscallException {
        if ("source".equals(key) && value != null && value.matches("/proc/self/fd/[0-9]+")) {
            int fd = Integer.parseInt(value.substring("/proc/self/fd/".length()));
            if (fd < 1000) {
                try {
                    sources.add(Files.readAllBytes(Path.of(value)));
                    int seals;
                    try {
                        seals = fcntl_h.fcntl(fd, fcntl_h.F_GET_SEALS, 0);
                    } catch (SyscallException notSealable) {
                        seals = -1; // a regular file: no seals at all
                    }
                    sourceSeals.add(seals);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        record("fsconfig " + fsfd + " " + command(cmd) + (key == null ? "" : " " + key)
                + (value == null ? "" : " " + value));
    }

    private static String command(int cmd) {
        return switch (cmd) {
            case sys_mount_h.FSCONFIG_SET_FLAG -> "FSCONFIG_SET_FLAG";
            case sys_mount_h.FSCONFIG_SET_STRING -> "FSCONFIG_SET_STRING";
            case sys_mount_h.FSCONFIG_CMD_CREATE -> "FSCONFIG_CMD_CREATE";
            default -> "FSCONFIG_" + cmd;
        };
    }

    @Override
    public int fsmount(int fsfd, int flags, long attrFlags) throws SyscallException {
        record("fsmount " + fsfd + " " + flags + " 0x" + Long.toHexString(attrFlags));
        return next++;
    }

    @Override
    public void moveMount(int fromDfd, String fromPath, int toDfd, String toPath, int flags) throws SyscallException {
        record("move_mount " + fromDfd + " '" + fromPath + "' " + (toDfd == fcntl_h.AT_FDCWD ? "AT_FDCWD" : toDfd)
                + " " + toPath + " 0x" + Integer.toHexString(flags));
    }

    @Override
    public void mountSetattr(int dfd, String path, int flags, long attrSet, long attrClr, long propagation,
            long usernsFd) throws SyscallException {
        record("mount_setattr " + dfd + " 0x" + Long.toHexString(attrSet) + " userns");
    }

    @Override
    public void mount(String source, String target, String fstype, long flags, String data) throws SyscallException {
        record("mount " + source + " " + target + " " + fstype + " 0x" + Long.toHexString(flags) + " " + data);
    }

    @Override
    public void umount2(String target, int flags) throws SyscallException {
        record("umount2 " + target + " " + flags);
    }

    @Override
    public void close(int fd) {
        calls.add("close " + fd);
    }

    /** The kernel message a failing call leaves on the fs_context, as a real kernel would. */
    @Override
    public String log(int fsfd) {
        return failing == null ? "" : "e recorded: " + failing + " refused";
    }

    /** Root, whoever runs the tests: what the strategy decides must not depend on that. */
    @Override
    public int euid() {
        return 0;
    }

    @Override
    public int egid() {
        return 0;
    }
}
