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
        private final ItemTask<T> overflow; // runs an item on the producer's thread, or null
        private boolean closed;

        private Sink(AtomicReference<Throwable> failure, ItemTask<T> overflow) {
            this.failure = failure;
            this.overflow = overflow;
        }

        /**
         * Adds an item; while more than {@link #BACKLOG} wait, the producer runs the oldest
         * itself before it goes on, so a producer faster than the tasks neither holds every
         * item at once nor leaves its core idle.
         */
        public void add(T item) throws IOException {
            T own = null;
            synchronized (this) {
                if (failure.get() != null) {
                    throw new Stopped();
                }
                items.add(item);
                notify();
                if (overflow != null && items.size() > BACKLOG) {
                    own = items.poll();
                }
            }
            if (own != null) {
                overflow.run(own);
            }
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

    /** Items a producer may run ahead of the tasks: enough that no worker waits for the next. */
    static final int BACKLOG = 1024;

    private interface ItemTask<T> {
        void run(T item) throws IOException;
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
        Sink<T> sink = new Sink<>(failure, null);
        sink.items.addAll(items);
        sink.closed = true;
        run(sink, failure, Math.max(1, Math.min(threads, items.size())), state, task, null, state);
    }

    /**
     * Like {@link #forEach}, with the items arriving while the tasks run: the producer runs on
     * the caller's thread and threads - 1 workers take its items as they come, then the caller
     * joins them. For a walk that would otherwise leave the other cores idle until it ends.
     * A producer that runs ahead by more than {@link #BACKLOG} items runs tasks too, with
     * the state the caller then keeps as a worker.
     */
    public static <S extends AutoCloseable, T> void forEachProduced(Producer<T> producer, int threads,
            Supplier<S> state, Task<S, T> task) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Lazy<S> callerState = new Lazy<>(state);
        Sink<T> sink = new Sink<>(failure, item -> task.run(callerState.get(), item));
        run(sink, failure, Math.max(1, threads), state, task, producer, callerState);
    }

    /** The caller's worker state, made when first needed, on its thread. */
    private static final class Lazy<S> implements Supplier<S> {
        private final Supplier<S> make;
        private S made;

        Lazy(Supplier<S> make) {
            this.make = make;
        }

        @Override
        public S get() {
            if (made == null) {
                made = make.get();
            }
            return made;
        }
    }

    private static <S extends AutoCloseable, T> void run(Sink<T> sink, AtomicReference<Throwable> failure, int n,
            Supplier<S> state, Task<S, T> task, Producer<T> producer, Supplier<S> callerState) throws IOException {
        List<Thread> started = new ArrayList<>();
        for (int i = 1; i < n; i++) {
            started.add(Thread.ofPlatform().name("composefs-worker-" + i).start(() -> work(sink, failure, state, task)));
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
        work(sink, failure, callerState, task);
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

    /** A worker: takes items until there are none (or a task failed), then closes its state. */
    private static <S extends AutoCloseable, T> void work(Sink<T> sink, AtomicReference<Throwable> failure,
            Supplier<S> state, Task<S, T> task) {
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
    }
}
