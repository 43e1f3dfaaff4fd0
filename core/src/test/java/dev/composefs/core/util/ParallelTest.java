package dev.composefs.core.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.IntStream;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** Every item once, on its worker's own state, every state closed; the first failure stops the rest. */
class ParallelTest {
    /** A worker's state that records its thread and its closing. */
    private static final class State implements AutoCloseable {
        static final Set<State> ALL = ConcurrentHashMap.newKeySet();
        final Thread owner = Thread.currentThread();
        volatile boolean closed;

        State() {
            ALL.add(this);
        }

        void check() {
            assertSame(owner, Thread.currentThread(), "a state is used on the thread that made it only");
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static List<Integer> items(int n) {
        return IntStream.range(0, n).boxed().toList();
    }

    @RepeatedTest(5)
    void everyItemRunsOnceOnItsWorkersOwnState() throws Exception {
        State.ALL.clear();
        AtomicIntegerArray runs = new AtomicIntegerArray(20_000);
        Parallel.forEach(items(20_000), 4, State::new, (st, i) -> {
            st.check();
            runs.incrementAndGet(i);
        });
        for (int i = 0; i < runs.length(); i++) {
            assertEquals(1, runs.get(i), "item " + i);
        }
        assertTrue(State.ALL.size() <= 4 && State.ALL.stream().allMatch(s -> s.closed), "states: " + State.ALL.size());
    }

    @RepeatedTest(5)
    void producedItemsRunOnceThoughTheProducerRunsAhead() throws Exception {
        State.ALL.clear();
        int n = 3 * Parallel.BACKLOG + 17;
        AtomicIntegerArray runs = new AtomicIntegerArray(n);
        Parallel.<State, Integer>forEachProduced(sink -> {
            for (int i = 0; i < n; i++) {
                sink.add(i);
            }
        }, 3, State::new, (st, i) -> {
            st.check();
            runs.incrementAndGet(i);
        });
        for (int i = 0; i < n; i++) {
            assertEquals(1, runs.get(i), "item " + i);
        }
        assertTrue(State.ALL.stream().allMatch(s -> s.closed));
        // nothing to do, one thread or many
        Parallel.<State, Integer>forEachProduced(sink -> { }, 4, State::new, (st, i) -> {
            throw new AssertionError();
        });
        Parallel.forEach(List.<Integer>of(), 4, State::new, (st, i) -> { throw new AssertionError(); });
        Parallel.forEach(items(3), 1, State::new, (st, i) -> st.check());
    }

    @RepeatedTest(5)
    void theFirstFailureStopsTheRestAndIsThrown() {
        State.ALL.clear();
        AtomicInteger ran = new AtomicInteger();
        IOException e = assertThrows(IOException.class, () -> Parallel.forEach(items(100_000), 4, State::new, (st, i) -> {
            ran.incrementAndGet();
            if (i == 1000) {
                throw new IOException("item 1000 failed");
            }
        }));
        assertEquals("item 1000 failed", e.getMessage());
        assertTrue(ran.get() < 100_000, "the rest were not run: " + ran.get());
        assertTrue(State.ALL.stream().allMatch(s -> s.closed));
        // a producer's own failure, and a task's failure stopping a producer
        IOException p = assertThrows(IOException.class, () -> Parallel.<State, Integer>forEachProduced(sink -> {
            sink.add(1);
            throw new IOException("the walk failed");
        }, 3, State::new, (st, i) -> { }));
        assertEquals("the walk failed", p.getMessage());
        IOException t = assertThrows(IOException.class, () -> Parallel.<State, Integer>forEachProduced(sink -> {
            for (int i = 0; i < 1_000_000; i++) {
                sink.add(i);
            }
        }, 3, State::new, (st, i) -> {
            if (i == 10) {
                throw new IOException("task 10 failed");
            }
        }));
        assertEquals("task 10 failed", t.getMessage());
        RuntimeException r = assertThrows(IllegalStateException.class, () -> Parallel.forEach(items(10), 2, State::new,
                (st, i) -> {
                    throw new IllegalStateException("unchecked");
                }));
        assertEquals("unchecked", r.getMessage());
    }

    /** One item's work in parts: the other workers take parts while no item waits; each part runs once. */
    @Test
    void sharedWorkIsDoneOnceWhoeverTakesItsParts() throws Exception {
        Parallel.Sharing<State> sharing = new Parallel.Sharing<>();
        AtomicIntegerArray parts = new AtomicIntegerArray(200);
        Set<Thread> helpers = ConcurrentHashMap.newKeySet();
        Parallel.forEach(List.of(0), 4, State::new, (st, item) -> {
            AtomicInteger next = new AtomicInteger();
            Parallel.Shared<State> job = s -> {
                int part = next.getAndIncrement();
                if (part >= parts.length()) {
                    return false;
                }
                s.check();
                helpers.add(Thread.currentThread());
                parts.incrementAndGet(part);
                try {
                    Thread.sleep(1); // long enough for the others to join in
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return true;
            };
            sharing.offer(job);
            while (job.runPart(st)) {
                // the item's own worker works too
            }
            sharing.withdraw(job);
        }, sharing);
        for (int i = 0; i < parts.length(); i++) {
            assertEquals(1, parts.get(i), "part " + i);
        }
        assertTrue(helpers.size() > 1, "other workers took parts: " + helpers.size());
    }
}
