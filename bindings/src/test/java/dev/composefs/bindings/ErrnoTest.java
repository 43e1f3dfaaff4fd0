package dev.composefs.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;

/** Every errno the table names is described as glibc's strerror(3) describes it. */
class ErrnoTest {
    @Test
    void everyDescriptionIsGlibcsStrerror() throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle strerror = linker.downcallHandle(linker.defaultLookup().find("strerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        for (var e : Errno.all().entrySet()) {
            MemorySegment s = (MemorySegment) strerror.invokeExact((int) e.getValue());
            assertEquals(s.reinterpret(1024).getString(0), Errno.description(e.getValue()), e.getKey());
        }
    }

    /** A corrupted EROFS image fails its mount with EUCLEAN: named, not "errno 117". */
    @Test
    void theErrnoOfACorruptedFilesystemHasItsName() {
        assertEquals("EUCLEAN", Errno.name(117));
        assertEquals("Structure needs cleaning", Errno.description(117));
    }
}
