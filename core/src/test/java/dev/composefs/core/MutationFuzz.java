package dev.composefs.core;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;

/**
 * A seeded mutation fuzz of a reader: each seed mutated {@code perSeed} times; every input must be
 * read or refused with the format's own exception, within a time bound, on a thread with a
 * bounded stack. Returns how many inputs were refused.
 */
public final class MutationFuzz {
    private MutationFuzz() {}

    /** A reader of one input. */
    public interface Reader {
        void read(byte[] input) throws Exception;
    }

    public static int run(List<byte[]> seeds, int perSeed, Random rnd, BiFunction<byte[], Random, byte[]> mutate,
            Class<? extends Exception> formatError, long secondsPerInput, Reader reader) throws InterruptedException {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(null, r, "fuzz", 64L << 20);
            t.setDaemon(true);
            return t;
        });
        int rejected = 0;
        try {
            for (byte[] seed : seeds) {
                for (int i = 0; i < perSeed; i++) {
                    byte[] m = mutate.apply(seed, rnd);
                    Future<Boolean> f = ex.submit(() -> {
                        try {
                            reader.read(m);
                            return false;
                        } catch (Exception e) {
                            if (formatError.isInstance(e)) {
                                return true;
                            }
                            throw e;
                        }
                    });
                    try {
                        if (f.get(secondsPerInput, TimeUnit.SECONDS)) {
                            rejected++;
                        }
                    } catch (TimeoutException e) {
                        fail("reader did not finish within " + secondsPerInput + " s on mutation " + i);
                    } catch (ExecutionException e) {
                        throw new AssertionError("reader threw " + e.getCause() + " on a mutated input", e.getCause());
                    }
                }
            }
        } finally {
            ex.shutdownNow();
        }
        return rejected;
    }

    // Mutations both readers' fuzzers use; each draws from rnd in the same order as before.

    public static byte[] truncate(byte[] m, Random rnd) {
        return java.util.Arrays.copyOf(m, rnd.nextInt(m.length));
    }

    /** 1..8 single-bit flips anywhere. */
    public static void flipBits(byte[] m, Random rnd) {
        for (int k = 1 + rnd.nextInt(8); k > 0; k--) {
            int p = rnd.nextInt(m.length);
            m[p] ^= (byte) (1 << rnd.nextInt(8));
        }
    }

    /** One byte anywhere set to a random value. */
    public static void randomByte(byte[] m, Random rnd) {
        int p = rnd.nextInt(m.length);
        m[p] = (byte) rnd.nextInt(256);
    }
}
