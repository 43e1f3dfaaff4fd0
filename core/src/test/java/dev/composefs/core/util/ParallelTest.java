package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The worker pool directory ingest and store fsck run on: every item once, the first failure wins, no hang. */
class ParallelTest {
    private static final int ITEMS = 20_000;

    /** Per-worker state that records it was closed. */
    private static final class State implements AutoCloseable {
        static final AtomicInteger OPEN = new AtomicInteger();

        State() {
            OPEN.incrementAndGet();
        }

        @Override
        public void close() {
            OPEN.decrementAndGet();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 16})
    void producedItemsAreEachRunOnce(int threads) throws IOException {
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger runs = new AtomicInteger();
        Parallel.<State, Integer>forEachProduced(sink -> {
            for (int i = 0; i < ITEMS; i++) {
                sink.add(i);
            }
        }, threads, State::new, (s, i) -> {
            runs.incrementAndGet();
            seen.add(i);
        });
        assertEquals(ITEMS, runs.get());
        assertEquals(ITEMS, seen.size());
        assertEquals(0, State.OPEN.get(), "every worker's state is closed");
    }

    /**
     * --threads=100000 ended the JVM for want of native memory: threads are capped, and a
     * worker that never gets an item makes no state (its buffers) at all.
     */
    @Test
    void threadsAreCappedAndAWorkerWithoutItemsMakesNoState() throws IOException {
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        AtomicInteger made = new AtomicInteger();
        AtomicInteger workers = new AtomicInteger();
        Parallel.<AutoCloseable, Integer>forEachProduced(sink -> {
            // the workers are started before the producer runs
            workers.set((int) Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("composefs-worker-")).count());
            for (int i = 0; i < 3; i++) {
                sink.add(i);
            }
        }, 100_000, () -> {
            made.incrementAndGet();
            return () -> { };
        }, (s, i) -> {
            threads.add(Thread.currentThread());
            try {
                Thread.sleep(50); // long enough that the items reach different workers
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        });
        assertTrue(made.get() <= 3, "states made: " + made.get() + " (one per worker that took an item)");
        assertEquals(made.get(), threads.size());
        assertTrue(Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("composefs-worker-")), "every worker ended");
        assertEquals(Parallel.MAX_THREADS - 1, workers.get(), "workers beside the caller's thread");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void listItemsAreEachRunOnce(int threads) throws IOException {
        List<Integer> items = new ArrayList<>();
        for (int i = 0; i < ITEMS; i++) {
            items.add(i);
        }
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        Parallel.forEach(items, threads, State::new, (s, i) -> assertTrue(seen.add(i), "item " + i + " twice"));
        assertEquals(ITEMS, seen.size());
    }

    /**
     * A producer faster than the tasks runs the oldest item itself beyond {@link Parallel#BACKLOG}:
     * the items produced and not yet done stay bounded, every item still runs once, and the
     * caller keeps the one state it made for that as its worker state.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void aProducerAheadOfTheTasksRunsTheOldestItself(int threads) throws IOException {
        AtomicInteger produced = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger mostAhead = new AtomicInteger();
        AtomicInteger byProducer = new AtomicInteger();
        AtomicInteger states = new AtomicInteger();
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        Thread caller = Thread.currentThread();
        Parallel.<State, Integer>forEachProduced(sink -> {
            for (int i = 0; i < ITEMS; i++) {
                sink.add(i);
                mostAhead.accumulateAndGet(produced.incrementAndGet() - done.get(), Math::max);
            }
        }, threads, () -> {
            states.incrementAndGet();
            return new State();
        }, (s, i) -> {
            if (Thread.currentThread() == caller) {
                byProducer.incrementAndGet();
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000);
            assertTrue(seen.add(i), "item " + i + " twice");
            done.incrementAndGet();
        });
        assertEquals(ITEMS, seen.size());
        assertTrue(mostAhead.get() <= Parallel.BACKLOG + threads + 1, mostAhead + " items in flight");
        assertTrue(byProducer.get() > 0, "the producer ran items");
        assertEquals(threads, states.get(), "one state per thread, the caller's made once");
        assertEquals(0, State.OPEN.get());
    }

    /**
     * Work the last items offer in parts is taken up by the workers that have no item left,
     * rather than their ending: every part runs once, on more than one thread, and each offer's
     * owner sees all its parts done.
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void workTheLastItemsOfferIsSharedByTheIdleWorkers(int threads) {
        int parts = 40;
        Parallel.Sharing<State> sharing = new Parallel.Sharing<>();
        Set<Thread> partThreads = ConcurrentHashMap.newKeySet();
        Set<String> partsRun = ConcurrentHashMap.newKeySet();
        AtomicInteger partRuns = new AtomicInteger();
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> Parallel.<State, Integer>forEachProduced(sink -> {
            for (int i = 0; i < 100; i++) {
                sink.add(i);
            }
        }, threads, State::new, (s, i) -> {
            if (i < 98) {
                return;
            }
            AtomicInteger next = new AtomicInteger();
            AtomicInteger done = new AtomicInteger();
            Parallel.Shared<State> job = state -> {
                int p = next.getAndIncrement();
                if (p >= parts) {
                    return false;
                }
                partThreads.add(Thread.currentThread());
                partsRun.add(i + "/" + p);
                partRuns.incrementAndGet();
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
                done.incrementAndGet();
                return true;
            };
            sharing.offer(job);
            while (job.runPart(s)) {
                // the owner's share
            }
            while (done.get() < parts) {
                Thread.onSpinWait(); // the other workers' parts
            }
            sharing.withdraw(job);
        }, sharing));
        assertEquals(2 * parts, partRuns.get(), "every part once");
        assertEquals(2 * parts, partsRun.size());
        assertTrue(partThreads.size() >= 2, "parts ran on " + partThreads.size() + " thread(s)");
        assertEquals(0, State.OPEN.get());
    }

    @Test
    void aFailingTaskStopsTheProducerAndIsWhatIsThrown() {
        IOException bad = new IOException("item 500 is bad");
        AtomicInteger produced = new AtomicInteger();
        IOException thrown = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(IOException.class,
                () -> Parallel.<State, Integer>forEachProduced(sink -> {
                    for (int i = 0; i < 10_000_000; i++) {
                        sink.add(i);
                        produced.incrementAndGet();
                    }
                }, 2, State::new, (s, i) -> {
                    if (i == 500) {
                        throw bad;
                    }
                })));
        assertSame(bad, thrown);
        assertTrue(produced.get() < 10_000_000, "the producer was stopped");
        assertEquals(0, State.OPEN.get());
    }

    @Test
    void aFailingProducerStopsTheWorkersAndIsWhatIsThrown() {
        IOException bad = new IOException("cannot read directory");
        IOException thrown = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(IOException.class,
                () -> Parallel.<State, Integer>forEachProduced(sink -> {
                    sink.add(1);
                    sink.add(2);
                    throw bad;
                }, 4, State::new, (s, i) -> java.util.concurrent.locks.LockSupport.parkNanos(10_000_000))));
        assertSame(bad, thrown);
        assertEquals(0, State.OPEN.get());
    }

    @Test
    void uncheckedFailuresComeThroughAsThemselves() {
        IllegalStateException bad = new IllegalStateException("bug");
        assertSame(bad, assertThrows(IllegalStateException.class, () -> Parallel.<State, Integer>forEachProduced(
                sink -> sink.add(1), 2, State::new, (s, i) -> {
                    throw bad;
                })));
    }
}
