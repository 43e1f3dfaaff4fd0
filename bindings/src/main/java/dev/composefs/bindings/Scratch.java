package dev.composefs.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;

/**
 * Native memory one thread reuses across its calls: the errno capture segment, and room for
 * the calls' arguments and results (paths, a statx buffer, an open_how), handed out by a call
 * and taken back when it returns. A tree scan makes about six calls per file; a confined arena
 * for each (a session, its resource list, a malloc, a zeroed errno segment, a free) was most
 * of what the scan allocated on the heap, and the largest cost of a call after the syscall.
 *
 * <p>Bindings that take a Scratch also take null, for a call of its own. Confined to the thread
 * that opened it, like the arena beneath it: another thread's use fails, not corrupts.
 */
public final class Scratch implements SegmentAllocator, AutoCloseable {
    /** Room for two paths of PATH_MAX and the structs of any one call; larger requests overflow. */
    private static final long AREA = 12 * 1024;
    /** A scratch for one call: a path and a struct, mostly. */
    private static final long ONCE = 1024;

    private final Arena arena = Arena.ofConfined();
    final MemorySegment errno = Native.errnoState(arena);
    private final long areaSize;
    private MemorySegment area; // made at the first allocation: a call may need none
    private long top;
    private int depth; // calls (and bindings' bodies) in progress: marks not yet released
    private Arena overflow; // what the area cannot hold, freed when the outermost call returns

    private Scratch(long areaSize) {
        this.areaSize = areaSize;
    }

    /** A scratch for the calls of the calling thread, until closed. */
    public static Scratch open() {
        return new Scratch(AREA);
    }

    /** A binding's body, run with the scratch it is given or one of its own. */
    @FunctionalInterface
    interface Body<T> {
        T run(Scratch scratch) throws SyscallException;
    }

    /** Whether this scratch serves a thread's calls (made by {@link #open}), not just one call. */
    boolean reused() {
        return areaSize == AREA;
    }

    /**
     * Runs body in scratch, taking back what it allocated when it returns; with scratch null,
     * in a scratch of its own, closed afterwards (what every call did before there were scratches).
     */
    static <T> T within(Scratch scratch, Body<T> body) throws SyscallException {
        Scratch s = scratch != null ? scratch : new Scratch(ONCE);
        long mark = s.mark();
        try {
            return body.run(s);
        } finally {
            s.release(mark);
            if (scratch == null) {
                s.close();
            }
        }
    }

    /** Zeroed memory, as an arena's: a C string copied in is terminated already. */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        if (area == null) {
            area = arena.allocate(areaSize, 16);
        }
        long at = (top + byteAlignment - 1) & -byteAlignment;
        if (byteAlignment > 16 || at + byteSize > areaSize) {
            if (overflow == null) {
                overflow = Arena.ofConfined();
            }
            return overflow.allocate(byteSize, byteAlignment);
        }
        top = at + byteSize;
        return area.asSlice(at, byteSize).fill((byte) 0);
    }

    /** Where the next allocation would start, for {@link #release}: a call or a body begins. */
    long mark() {
        depth++;
        return top;
    }

    /** Takes back everything allocated since mark: the call or body that took it returns. */
    void release(long mark) {
        top = mark;
        if (--depth == 0 && overflow != null) {
            overflow.close();
            overflow = null;
        }
    }

    @Override
    public void close() {
        if (overflow != null) {
            overflow.close();
        }
        arena.close();
    }
}
