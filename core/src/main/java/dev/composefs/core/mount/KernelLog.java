package dev.composefs.core.mount;

import dev.composefs.bindings.SyscallException;

/** The kernel's own words for a refused fsconfig/fsmount, read from the fs_context and added to the error. */
final class KernelLog {
    private KernelLog() {}

    static SyscallException attach(MountCalls sys, int fsfd, SyscallException e) {
        if (fsfd < 0) {
            return e;
        }
        String log = sys.log(fsfd);
        return log.isEmpty() ? e : e.withDetail("kernel says: " + log.replace('\n', ';'));
    }
}
