package dev.composefs.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** keyutils: add_key(2), through syscall(2) (libkeyutils is not a dependency). */
public final class linux_keyctl_h {
    private linux_keyctl_h() {}

    /** x86_64 syscall number of add_key. */
    public static final long SYS_add_key = 248;

    /** add_key(type, description, payload, keyring): the new key's serial number. */
    public static int addKey(String type, String description, byte[] payload, int keyring) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = Native.cstr(arena, type);
            MemorySegment d = Native.cstr(arena, description);
            MemorySegment p = arena.allocate(Math.max(1, payload.length));
            Native.copy(payload, 0, p, 0, payload.length);
            return (int) unistd_h.syscall("add_key", type + " key into keyring " + keyring, SYS_add_key,
                    t.address(), d.address(), p.address(), payload.length, keyring);
        }
    }
}
