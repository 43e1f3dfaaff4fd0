package dev.composefs.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * openssl/sha.h: SHA256_Init/Update/Final of the system's libcrypto (OpenSSL 3), on native
 * memory given by address. The JDK computes SHA-256 at the CPU's speed only once C2 has compiled
 * it; OpenSSL does from the first block, so short runs can stay on C1. Not the one-shot
 * SHA256(): in OpenSSL 3 it fetches the algorithm from the provider store on every call (a lock
 * and a context allocation per block). Where libcrypto or these
 * symbols are missing, {@link #available} is false and callers use the JDK's digest.
 *
 * <p>Pointers are passed as their addresses in a JAVA_LONG, which every 64-bit ABI the JDK
 * links for passes exactly as a pointer: a MemorySegment argument is an object per argument per
 * call, and wrapping heap arrays three times per block would make garbage in proportion to the
 * data hashed. The callers own the memory and its bounds; the calls are critical (no safepoint
 * transition), as a block's hash is a few microseconds.
 *
 * <p>All three are linked with one signature, (long, long, long) -> int: a signature is a
 * downcall stub, spun at first use, and a digest run's start-up is short.
 * SHA256_Init reads one argument and SHA256_Final two; the others are passed in registers the
 * callee never reads, which every 64-bit ABI the JDK links for (x86-64, AArch64, RISC-V, POWER,
 * s390x: the first six integer arguments in registers, owned by the caller) makes harmless.
 */
public final class openssl_sha_h {
    private openssl_sha_h() {}

    /** sizeof(SHA256_CTX) is 112 (eight state words, two length words, a 64-byte block, two counters); room to spare. */
    private static final int CTX_BYTES = 128;

    /** The native memory a SHA-256 context needs, in bytes. */
    public static int contextSize() {
        return CTX_BYTES;
    }

    private record Handles(MethodHandle init, MethodHandle update, MethodHandle fin) {}

    private static final class sha256 {
        static final Optional<Handles> HANDLES = lookup().flatMap(l -> {
            Optional<MemorySegment> init = l.find("SHA256_Init");
            Optional<MemorySegment> update = l.find("SHA256_Update");
            Optional<MemorySegment> fin = l.find("SHA256_Final");
            if (init.isEmpty() || update.isEmpty() || fin.isEmpty()) {
                return Optional.empty();
            }
            Linker.Option critical = Linker.Option.critical(false);
            FunctionDescriptor three = FunctionDescriptor.of(Native.C_INT, Native.C_LONG, Native.C_LONG, Native.C_LONG);
            return Optional.of(new Handles(Native.LINKER.downcallHandle(init.get(), three, critical),
                    Native.LINKER.downcallHandle(update.get(), three, critical),
                    Native.LINKER.downcallHandle(fin.get(), three, critical)));
        });
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

    /** Whether SHA256_Init/Update/Final could be linked. */
    public static boolean available() {
        return sha256.HANDLES.isPresent();
    }

    /** SHA256_Init: starts a digest in the context at ctx ({@link #contextSize} bytes of native memory). Only when {@link #available}. */
    public static void init(long ctx) {
        try {
            check((int) sha256.HANDLES.get().init().invokeExact(ctx, 0L, 0L));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    /** SHA256_Update with the len bytes of native memory at data. */
    public static void update(long ctx, long data, long len) {
        try {
            check((int) sha256.HANDLES.get().update().invokeExact(ctx, data, len));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    /** SHA256_Final: the 32-byte digest into the native memory at out. */
    public static void finish(long ctx, long out) {
        try {
            check((int) sha256.HANDLES.get().fin().invokeExact(out, ctx, 0L));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.wrap(t);
        }
    }

    private static void check(int ok) {
        if (ok != 1) {
            throw new IllegalStateException("libcrypto SHA256_* failed");
        }
    }
}
