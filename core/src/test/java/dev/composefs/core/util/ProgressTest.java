package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test
    void throttledOverwritingLineOnlyWhenEnabled() {
        long[] now = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Progress p = new Progress(new PrintStream(buf, true, StandardCharsets.UTF_8), true, () -> now[0]);
        p.update("scanning: 1 entries");
        p.update("scanning: 2 entries"); // within 200 ms: dropped
        now[0] += 250_000_000L;
        p.update("done: 3");
        p.clear();
        assertEquals("\rscanning: 1 entries" + "\rdone: 3" + " ".repeat(12) + "\r" + " ".repeat(7) + "\r",
                buf.toString(StandardCharsets.UTF_8));

        ByteArrayOutputStream quiet = new ByteArrayOutputStream();
        Progress off = new Progress(new PrintStream(quiet, true, StandardCharsets.UTF_8), false, () -> now[0]);
        off.update("x");
        off.clear();
        assertEquals(0, quiet.size(), "not on a terminal: nothing at all");
    }

    @Test
    void humanSizes() {
        assertEquals("512 B", Progress.bytes(512));
        assertEquals("1.5 KiB", Progress.bytes(1536));
        assertEquals("3.0 GiB", Progress.bytes(3L << 30));
    }
}
