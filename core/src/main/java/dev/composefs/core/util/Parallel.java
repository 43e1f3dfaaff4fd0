package dev.composefs.core.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Runs one task per item on N threads (the caller is one of them), like upstream mkcomposefs'
 * worker pool: items are taken in order, the first failure stops the rest and is rethrown.
 * Each worker gets its own state (e.g. a native read buffer confined to that thread).
 */
public final class Parallel {
    private Parallel() {}

    @FunctionalInterface
    public interface Task<S, T> {
        void run(S state, T item) throws IOException;
    }

    /** Produces the items, handing each to the sink once it is complete. */
    @FunctionalInterface
    public interface Producer<T> {
        void produce(Sink<T> sink) throws IOException;
    }

    /**
     * Where a producer puts its items; {@link #add} throws once a task has failed, to stop the
     * producer. A taken item is no longer referenced here, so one a task is done with can die young.
     */
    public static final class Sink<T> {
        private final ArrayDeque<T> items = new ArrayDeque<>();
        private final AtomicReference<Throwable> failure;
        private boolean closed;

        private Sink(AtomicReference<Throwable> failure) {
            this.failure = failure;
        }

        public synchronized void add(T item) throws IOException {
            if (failure.get() != null) {
                throw new Stopped();
            }
            items.add(item);
            notify();
        }

        private synchronized void close() {
            closed = true;
            notifyAll();
        }

        /** The next item, waiting for the producer; null once it is done and all are taken, or on failure. */
        private synchronized T take() throws InterruptedException {
            while (items.isEmpty() && !closed && failure.get() == null) {
                wait();
            }
            return failure.get() != null ? null : items.poll();
        }
    }

    /** Thrown by {@link Sink#add} into the producer when a task has failed; that failure is what forEach throws. */
    private static final class Stopped extends IOException {
        Stopped() {
            super("stopped: a task failed", null);
        }
    }

    public static <S extends AutoCloseable, T> void forEach(List<T> items, int threads, Supplier<S> state,
            Task<S, T> task) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Sink<T> sink = new Sink<>(failure);
        sink.items.addAll(items);
        sink.closed = true;
        run(sink, failure, Math.max(1, Math.min(threads, items.size())), state, task, null);
    }

    /**
     * Like {@link #forEach}, with the items arriving while the tasks run: the producer runs on
     * the caller's thread and threads - 1 workers take its items as they come, then the caller
     * joins them. For a walk that would otherwise leave the other cores idle until it ends.
     */
    public static <S extends AutoCloseable, T> void forEachProduced(Producer<T> producer, int threads,
            Supplier<S> state, Task<S, T> task) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        run(new Sink<>(failure), failure, Math.max(1, threads), state, task, producer);
    }

    private static <S extends AutoCloseable, T> void run(Sink<T> sink, AtomicReference<Throwable> failure, int n,
            Supplier<S> state, Task<S, T> task, Producer<T> producer) throws IOException {
        Runnable worker = () -> {
            try (S s = state.get()) {
                for (T item; (item = sink.take()) != null; ) {
                    task.run(s, item);
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                synchronized (sink) {
                    sink.notifyAll(); // waiting workers see the failure
                }
            }
        };
        List<Thread> started = new ArrayList<>();
        for (int i = 1; i < n; i++) {
            started.add(Thread.ofPlatform().name("composefs-worker-" + i).start(worker));
        }
        if (producer != null) {
            try {
                producer.produce(sink);
            } catch (Stopped e) {
                // a task failed: that failure is thrown below
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                sink.close();
            }
        }
        worker.run();
        for (Thread t : started) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.compareAndSet(null, e);
            }
        }
        Throwable t = failure.get();
        if (t == null) {
            return;
        }
        if (t instanceof IOException e) {
            throw e;
        }
        if (t instanceof UncheckedIOException e) {
            throw e.getCause();
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IOException(t);
    }
}
