package dev.composefs.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The plumbing every header class shares, in the shape jextract generates: one linker, the libc
 * lookup, and the captured-errno state layout.
 */
public final class Native {
    private Native() {}

    public static final Linker LINKER = Linker.nativeLinker();
    static final SymbolLookup LIBC = LINKER.defaultLookup();

    public static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;
    public static final ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;
    public static final ValueLayout.OfShort C_SHORT = ValueLayout.JAVA_SHORT;
    public static final ValueLayout.OfByte C_CHAR = ValueLayout.JAVA_BYTE;
    public static final ValueLayout C_POINTER = ValueLayout.ADDRESS;

    static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final long ERRNO = offsetOf(CAPTURE_LAYOUT, "errno");
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** A downcall whose first argument is the errno capture segment. */
    static MethodHandle downcall(String symbol, FunctionDescriptor desc) {
        MemorySegment addr = LIBC.find(symbol)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + symbol));
        return LINKER.downcallHandle(addr, desc, CAPTURE_ERRNO);
    }

    /** A variadic downcall (syscall(2), ioctl(2), fcntl(2), openat(2)) fixed to one signature. */
    static MethodHandle variadic(String symbol, FunctionDescriptor desc, int firstVariadic) {
        MemorySegment addr = LIBC.find(symbol)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + symbol));
        return LINKER.downcallHandle(addr, desc, CAPTURE_ERRNO, Linker.Option.firstVariadicArg(firstVariadic));
    }

    /** A downcall that cannot fail (no errno capture). */
    static MethodHandle plain(String symbol, FunctionDescriptor desc) {
        MemorySegment addr = LIBC.find(symbol)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + symbol));
        return LINKER.downcallHandle(addr, desc);
    }

    /**
     * The byte offset of a (nested) struct member, found by walking the members. Struct fields are
     * read and written at such offsets rather than through layout paths: the first layout path
     * (a varHandle or byteOffset call) initialises the JDK's LayoutPath, whose method handles are
     * spun at start-up, on the mount helper's path too.
     */
    public static long offsetOf(GroupLayout struct, String... path) {
        long offset = 0;
        GroupLayout group = struct;
        for (int i = 0; i < path.length; i++) {
            MemoryLayout found = null;
            long at = 0;
            for (MemoryLayout m : group.memberLayouts()) {
                if (m.name().isPresent() && m.name().get().equals(path[i])) {
                    found = m;
                    break;
                }
                if (group instanceof StructLayout) {
                    at += m.byteSize();
                }
            }
            if (found == null || (i < path.length - 1 && !(found instanceof GroupLayout))) {
                throw new IllegalArgumentException(struct.name().orElse("struct") + " has no member "
                        + String.join(".", path));
            }
            offset += at;
            if (i < path.length - 1) {
                group = (GroupLayout) found;
            }
        }
        return offset;
    }

    /** A NUL-terminated copy of a path given as its raw bytes: Linux names are byte strings, not text. */
    static MemorySegment cstr(SegmentAllocator arena, byte[] path) {
        MemorySegment s = arena.allocate(path.length + 1L); // zeroed (an arena's, a Scratch's), so terminated
        if (arena instanceof Scratch scratch && scratch.reused()) {
            MemorySegment.copy(path, 0, s, C_CHAR, 0, path.length); // a thread's call per file: allocates nothing
        } else {
            copy(path, 0, s, 0, path.length); // a call of its own (a mount's): spins no type switch
        }
        return s;
    }

    /**
     * A NUL-terminated UTF-8 copy of s, as Arena.allocateFrom makes it, without its write of the
     * terminator through a layout path (see offsetOf).
     */
    static MemorySegment cstr(SegmentAllocator arena, String s) {
        return cstr(arena, s.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The first n bytes of seg as a new array. Not seg.asSlice(0, n).toArray(JAVA_BYTE), which
     * makes a slice and a byte-order copy of the layout per call: on every xattr list, value and
     * symlink target of a tree scan.
     */
    public static byte[] toBytes(MemorySegment seg, long n) {
        byte[] out = new byte[Math.toIntExact(n)];
        MemorySegment.copy(seg, C_CHAR, 0, out, 0, out.length);
        return out;
    }

    /**
     * Copies n bytes of src from off to dst at dstOff, as a bulk copy from the array's heap
     * segment. Not MemorySegment.copy(array, ...), whose switch on the array's type spins a class
     * at its first use in every run and touches more of the AOT cache and the runtime's modules.
     * The heap segment and its session are two objects per call, so copies made per file of a
     * scan stay element-wise, sparing the young generation that garbage.
     */
    public static void copy(byte[] src, int off, MemorySegment dst, long dstOff, int n) {
        MemorySegment.copy(MemorySegment.ofArray(src), off, dst, dstOff, n);
    }

    /** Copies n bytes of src from off into dst at dstOff (see the other copy). */
    public static void copy(MemorySegment src, long off, byte[] dst, int dstOff, int n) {
        MemorySegment.copy(src, off, MemorySegment.ofArray(dst), dstOff, n);
    }

    /** How a raw path appears in error messages. */
    static String display(byte[] path) {
        return new String(path, StandardCharsets.UTF_8);
    }

    static MemorySegment errnoState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    static int errno(MemorySegment state) {
        // a ByteBuffer view, not state.get: see offsetOf
        return state.asByteBuffer().order(ByteOrder.nativeOrder()).getInt((int) ERRNO);
    }

    /** Turns an unexpected Throwable from invokeExact into an Error: signatures are fixed, so this is a bug. */
    static AssertionError wrap(Throwable t) {
        return new AssertionError("native call failed unexpectedly", t);
    }

    /** One native invocation: gets the errno capture segment and zeroed memory for its arguments. */
    @FunctionalInterface
    interface Invocation {
        long invoke(MemorySegment errnoState, SegmentAllocator arena) throws Throwable;
    }

    /**
     * Runs one call in its own confined arena and turns -1 into a {@link SyscallException} naming
     * the call and its target; the shape every binding method shares.
     */
    static long call(String name, String target, Invocation invocation) throws SyscallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = errnoState(arena);
            return check(invocation.invoke(st, arena), st, name, target);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@link #call(String, String, Invocation)} in the thread's scratch (null: an arena of its own). */
    static long call(Scratch scratch, String name, String target, Invocation invocation) throws SyscallException {
        if (scratch == null) {
            return call(name, target, invocation);
        }
        long mark = scratch.mark();
        try {
            return check(invocation.invoke(scratch.errno, scratch), scratch.errno, name, target);
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw wrap(t);
        } finally {
            scratch.release(mark);
        }
    }

    /** Checks a C int result: -1 means failure with errno. */
    static int check(int result, MemorySegment state, String call, String target) throws SyscallException {
        if (result == -1) {
            throw new SyscallException(call, target, errno(state));
        }
        return result;
    }

    static long check(long result, MemorySegment state, String call, String target) throws SyscallException {
        if (result == -1) {
            throw new SyscallException(call, target, errno(state));
        }
        return result;
    }
}
