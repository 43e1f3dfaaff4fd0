package dev.composefs.bindings;

import static dev.composefs.bindings.Native.C_INT;
import static dev.composefs.bindings.Native.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * spawn.h and sys/wait.h: running a program with a descriptor of ours as its standard input,
 * which ProcessBuilder cannot do (its children get only 0, 1 and 2, from files or pipes). The
 * mount helper of FUSE, fusermount3, takes its socket that way.
 */
@SuppressWarnings("checkstyle:TypeName")
public final class spawn_h {
    private spawn_h() {}

    /** glibc's posix_spawn_file_actions_t is 80 bytes; it is opaque, so room to spare. */
    private static final long FILE_ACTIONS_SIZE = 256;

    private static final class actionsInit {
        static final MethodHandle HANDLE = Native.plain("posix_spawn_file_actions_init",
                FunctionDescriptor.of(C_INT, C_POINTER));
    }

    private static final class actionsDup2 {
        static final MethodHandle HANDLE = Native.plain("posix_spawn_file_actions_adddup2",
                FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT));
    }

    private static final class actionsDestroy {
        static final MethodHandle HANDLE = Native.plain("posix_spawn_file_actions_destroy",
                FunctionDescriptor.of(C_INT, C_POINTER));
    }

    private static final class posixSpawn {
        static final MethodHandle HANDLE = Native.plain("posix_spawn",
                FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER));
    }

    private static final class waitpid {
        static final MethodHandle HANDLE = Native.downcall("waitpid",
                FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    }

    /**
     * Starts path with argv and exactly the environment env, its standard input a duplicate of
     * stdinFd (standard output and error are ours); returns its pid. posix_spawn reports an
     * error as its result, not in errno.
     */
    public static int spawn(String path, List<String> argv, List<String> env, int stdinFd) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment actions = arena.allocate(FILE_ACTIONS_SIZE, 16);
            MemorySegment pid = arena.allocate(C_INT);
            int r = (int) actionsInit.HANDLE.invokeExact(actions);
            if (r != 0) {
                throw new SyscallException("posix_spawn_file_actions_init", path, r);
            }
            try {
                r = (int) actionsDup2.HANDLE.invokeExact(actions, stdinFd, 0);
                if (r != 0) {
                    throw new SyscallException("posix_spawn_file_actions_adddup2", path, r);
                }
                r = (int) posixSpawn.HANDLE.invokeExact(pid, Native.cstr(arena, path), actions, MemorySegment.NULL,
                        strings(arena, argv), strings(arena, env));
                if (r != 0) {
                    throw new SyscallException("posix_spawn", path, r);
                }
                return pid.get(C_INT, 0);
            } finally {
                int ignored = (int) actionsDestroy.HANDLE.invokeExact(actions);
            }
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    /** waitpid(2) until pid ends; its exit status, or 128 + the signal that ended it. */
    public static int waitFor(int pid, String what) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(C_INT);
            while (true) {
                try {
                    Native.call("waitpid", what, (st, a) -> (int) waitpid.HANDLE.invokeExact(st, pid, status, 0));
                    break;
                } catch (SyscallException e) {
                    if (!e.is(Errno.EINTR)) {
                        throw e;
                    }
                }
            }
            int s = status.get(C_INT, 0);
            return (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
        }
    }

    /** A NULL-terminated array of C strings. */
    private static MemorySegment strings(Arena arena, List<String> list) {
        MemorySegment array = arena.allocate(C_POINTER, list.size() + 1);
        for (int i = 0; i < list.size(); i++) {
            array.setAtIndex(ValueLayout.ADDRESS, i, Native.cstr(arena, list.get(i)));
        }
        array.setAtIndex(ValueLayout.ADDRESS, list.size(), MemorySegment.NULL);
        return array;
    }
}
