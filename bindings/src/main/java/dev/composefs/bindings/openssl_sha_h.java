package dev.composefs.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * openssl/sha.h: SHA256() of the system's libcrypto (OpenSSL 3), called as a critical downcall
 * on heap arrays (no copy, no arena). The JDK computes SHA-256 at the CPU's speed only once C2
 * has compiled it; OpenSSL does from the first block, so short runs can stay on C1. Where
 * libcrypto cannot be loaded, {@link #available} is false and callers use the JDK's digest.
 */
public final class openssl_sha_h {
    private openssl_sha_h() {}

    private static final class sha256 {
        static final Optional<MethodHandle> HANDLE = lookup().flatMap(l -> l.find("SHA256")).map(addr ->
                Native.LINKER.downcallHandle(addr, FunctionDescriptor.of(Native.C_POINTER, Native.C_POINTER,
                        Native.C_LONG, Native.C_POINTER), Linker.Option.critical(true)));
    }

    private static Optional<SymbolLookup> lookup() {
        for (String name : new String[] {"libcrypto.so.3", "libcrypto.so"}) {
            try {
                return Optional.of(SymbolLookup.libraryLookup(name, Arena.global()));
            } catch (IllegalArgumentException notThere) {
                // try the next name
            }
        }
        return Optional.empty();
    }

    /** Whether SHA256() could be linked. */
    public static boolean available() {
        return sha256.HANDLE.isPresent();
    }

    /** SHA-256 of data[off, off+len) into out[outOff, outOff+32). Only when {@link #available}. */
    public static void sha256(byte[] data, int off, int len, byte[] out, int outOff) {
        try {
            MemorySegment unused = (MemorySegment) sha256.HANDLE.get().invokeExact(
                    MemorySegment.ofArray(data).asSlice(off, len), (long) len, MemorySegment.ofArray(out).asSlice(outOff, 32));
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }
}
