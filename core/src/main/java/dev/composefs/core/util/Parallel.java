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
        private Sharing<?> sharing; // where tasks offer work to idle workers, or null
        private int busy; // items taken by workers and not yet done

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

        /** Lets the run's tasks offer work through sharing (none if null). */
        private void share(Sharing<?> sharing) {
            if (sharing != null) {
                sharing.sink = this;
                this.sharing = sharing;
            }
        }

        private synchronized void close() {
            closed = true;
            notifyAll();
        }

        /**
         * What a worker runs next, waiting until there is something: an item, else work a task
         * offered (a {@link Job}), else null once the producer is done and no item is left, or
         * a task failed. Where tasks may offer work, a worker without any also waits for the
         * others' items to be done: the last of them may yet offer some. finished says the
         * worker's previous item is done.
         */
        private synchronized Object next(boolean finished) throws InterruptedException {
            if (finished && --busy == 0) {
                notifyAll();
            }
            while (failure.get() == null) {
                T item = items.poll();
                if (item != null) {
                    busy++;
                    return item;
                }
                Shared<?> job = sharing == null ? null : sharing.offered.peekFirst();
                if (job != null) {
                    return new Job(job);
                }
                if (closed && (sharing == null || busy == 0)) {
                    return null;
                }
                wait();
            }
            return null;
        }
    }

    /** Work a task offered, as {@link Sink#next} returns it (an item may be of any type). */
    private record Job(Shared<?> shared) {}

    /**
     * Work that a task shares with the other workers while it runs it too: a large file's
     * hashing, in parts. Workers take parts only when no item is waiting, so sharing never holds
     * items up; it keeps the last items from leaving cores idle while one large one runs.
     */
    public interface Shared<S> {
        /** Runs one part with a worker's state; false, having done nothing, once every part is taken. */
        boolean runPart(S state);
    }

    /** Where the tasks of one run ({@link #forEach}, {@link #forEachProduced}) offer {@link Shared} work to its idle workers. */
    public static final class Sharing<S> {
        private final ArrayDeque<Shared<S>> offered = new ArrayDeque<>();
        private Sink<?> sink; // the run's: its workers wait on it for items and offers alike

        /** Offers job's parts to idle workers until every part is taken or it is withdrawn. */
        public void offer(Shared<S> job) {
            synchronized (sink) {
                offered.add(job);
                sink.notifyAll();
            }
        }

        /** Takes job back (its parts all done, or it failed). */
        public void withdraw(Shared<S> job) {
            synchronized (sink) {
                offered.remove(job);
            }
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
        forEach(items, threads, state, task, null);
    }

    /**
     * {@link #forEach}, where tasks may offer work to idle workers through sharing (or null): on
     * as many threads as asked even for fewer items, since one item's work may then be shared.
     */
    public static <S extends AutoCloseable, T> void forEach(List<T> items, int threads, Supplier<S> state,
            Task<S, T> task, Sharing<S> sharing) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Sink<T> sink = new Sink<>(failure, null);
        sink.items.addAll(items);
        sink.closed = true;
        sink.share(sharing);
        int n = sharing != null ? threads : Math.min(threads, items.size());
        run(sink, failure, Math.max(1, n), state, task, null, state);
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
        forEachProduced(producer, threads, state, task, null);
    }

    /** {@link #forEachProduced}, where tasks may offer work to idle workers through sharing (or null). */
    public static <S extends AutoCloseable, T> void forEachProduced(Producer<T> producer, int threads,
            Supplier<S> state, Task<S, T> task, Sharing<S> sharing) throws IOException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Lazy<S> callerState = new Lazy<>(state);
        Sink<T> sink = new Sink<>(failure, item -> task.run(callerState.get(), item));
        sink.share(sharing);
        run(sink, failure, Math.max(1, threads), state, task, producer, callerState);
    }

    /** A worker's state, made when first needed, on its thread; closed with it if it was made. */
    private static final class Lazy<S extends AutoCloseable> implements Supplier<S>, AutoCloseable {
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

        @Override
        public void close() throws Exception {
            if (made != null) {
                made.close();
            }
        }
    }

    /**
     * At most this many threads, whatever is asked: upstream's C workers cost little, but each of
     * the JVM's takes a few hundred KiB, and --threads=100000 ended the JVM for want of native
     * memory. Hashing is CPU-bound; more threads than this cannot make it faster.
     */
    public static final int MAX_THREADS = 256;

    private static <S extends AutoCloseable, T> void run(Sink<T> sink, AtomicReference<Throwable> failure, int n,
            Supplier<S> state, Task<S, T> task, Producer<T> producer, Supplier<S> callerState) throws IOException {
        n = Math.min(n, MAX_THREADS);
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

    /**
     * A worker: runs items, and parts of offered work while no item waits, until there are none
     * (or a task failed), then closes its state. The state is made when the worker takes its
     * first item: one that finds none left (more threads asked for than there are files) costs
     * its stack, not its buffers.
     */
    @SuppressWarnings("unchecked") // items are the sink's T; the run's Sharing offers work for its workers' S
    private static <S extends AutoCloseable, T> void work(Sink<T> sink, AtomicReference<Throwable> failure,
            Supplier<S> state, Task<S, T> task) {
        // the caller's state may already be made: its producer ran items with it
        try (Lazy<S> lazy = state instanceof Lazy<?> made ? (Lazy<S>) made : new Lazy<>(state)) {
            boolean finished = false;
            for (Object next; (next = sink.next(finished)) != null; ) {
                S s = lazy.get();
                finished = false;
                if (next instanceof Job(Shared<?> shared)) {
                    Shared<S> job = (Shared<S>) shared;
                    while (job.runPart(s)) {
                        // until every part is taken
                    }
                    ((Sharing<S>) sink.sharing).withdraw(job); // no worker takes it up again
                } else {
                    task.run(s, (T) next);
                    finished = true;
                }
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            synchronized (sink) {
                sink.notifyAll(); // waiting workers see the failure
            }
        }
    }
}
