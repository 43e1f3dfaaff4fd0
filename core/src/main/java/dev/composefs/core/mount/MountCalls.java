package dev.composefs.core.mount;

import dev.composefs.bindings.Native;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.sys_mount_h;
import dev.composefs.bindings.unistd_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * The mount syscalls the orchestrator makes: fsopen/fsconfig/fsmount/move_mount, mount_setattr,
 * mount(2)/umount2(2) and closing the fds they return. One seam, so a test can drive every
 * strategy with a recording implementation and check exactly which calls a kernel would see.
 */
public interface MountCalls {
    int fsopen(String fsName, int flags) throws SyscallException;

    void fsconfig(int fsfd, int cmd, String key, String value, int aux) throws SyscallException;

    int fsmount(int fsfd, int flags, long attrFlags) throws SyscallException;

    void moveMount(int fromDfd, String fromPath, int toDfd, String toPath, int flags) throws SyscallException;

    void mountSetattr(int dfd, String path, int flags, long attrSet, long attrClr, long propagation, long usernsFd)
            throws SyscallException;

    void mount(String source, String target, String fstype, long flags, String data) throws SyscallException;

    void umount2(String target, int flags) throws SyscallException;

    /** Closes an fd returned by fsopen or fsmount; never fails (nothing useful follows a failed close). */
    void close(int fd);

    /**
     * The messages the kernel logged on an fsopen fd (why fsconfig or fsmount refused), one per
     * line as "e overlay: ...", consumed by reading; empty when there are none.
     */
    String log(int fsfd);

    /** The mounter's effective uid: the 2023 driver shows every file as the mounter's. */
    default int euid() {
        return unistd_h.geteuid();
    }

    /** The mounter's effective gid. */
    default int egid() {
        return unistd_h.getegid();
    }

    /** The real system calls. */
    MountCalls NATIVE = new MountCalls() {
        @Override
        public int fsopen(String fsName, int flags) throws SyscallException {
            return sys_mount_h.fsopen(fsName, flags);
        }

        @Override
        public void fsconfig(int fsfd, int cmd, String key, String value, int aux) throws SyscallException {
            sys_mount_h.fsconfig(fsfd, cmd, key, value, aux);
        }

        @Override
        public int fsmount(int fsfd, int flags, long attrFlags) throws SyscallException {
            return sys_mount_h.fsmount(fsfd, flags, attrFlags);
        }

        @Override
        public void moveMount(int fromDfd, String fromPath, int toDfd, String toPath, int flags)
                throws SyscallException {
            sys_mount_h.moveMount(fromDfd, fromPath, toDfd, toPath, flags);
        }

        @Override
        public void mountSetattr(int dfd, String path, int flags, long attrSet, long attrClr, long propagation,
                long usernsFd) throws SyscallException {
            sys_mount_h.mountSetattr(dfd, path, flags, attrSet, attrClr, propagation, usernsFd);
        }

        @Override
        public void mount(String source, String target, String fstype, long flags, String data)
                throws SyscallException {
            sys_mount_h.mount(source, target, fstype, flags, data);
        }

        @Override
        public void umount2(String target, int flags) throws SyscallException {
            sys_mount_h.umount2(target, flags);
        }

        @Override
        public void close(int fd) {
            unistd_h.closeQuietly(fd);
        }

        @Override
        public String log(int fsfd) {
            StringBuilder sb = new StringBuilder();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4096);
                // each read returns one message; ENODATA once none are left
                for (int i = 0; i < 64; i++) {
                    long n = unistd_h.read(fsfd, buf, "fs_context log");
                    if (n <= 0) {
                        break;
                    }
                    sb.append(new String(Native.toBytes(buf, n),
                            StandardCharsets.UTF_8).strip()).append('\n');
                }
            } catch (SyscallException e) {
                // ENODATA: no (more) messages
            }
            return sb.toString().strip();
        }
    };
}
