package dev.composefs.core.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Runs one task per item on N threads (the caller is one of them), like upstream mkcomposefs'
 * worker pool: the first failure stops the rest and is rethrown. Each worker gets its own state
 * (e.g. a native read buffer confined to that thread). The workers are an ExecutorService's
 * threads taking work from one deque: items, tokens for work a task shares (see {@link Shared}),
 * and at the end one stop per worker.
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
     * Work that a task shares with the other workers while it runs it too: a large file's
     * hashing, in parts. It keeps the last items from leaving cores idle while one large one runs.
     */
    public interface Shared<S> {
        /** Runs one part with a worker's state; false, having done nothing, once every part is taken. */
        boolean runPart(S state);
    }

    /** Where the tasks of one run offer {@link Shared} work to its other workers. */
    public static final class Sharing<S extends AutoCloseable> {
        private final Set<Shared<S>> offered = ConcurrentHashMap.newKeySet();
        private Run<S, ?> run;

        /** Offers job's parts to the other workers until every part is taken or it is withdrawn. */
        public void offer(Shared<S> job) {
            offered.add(job);
            for (int i = 1; i < run.workers; i++) {
                run.work.offerLast(new Token(job)); // behind the items waiting: items come first
            }
        }

        /** Takes job back (its parts all done, or it failed): its tokens left in the deque do nothing. */
        public void withdraw(Shared<S> job) {
            offered.remove(job);
        }
    }

    /** Where a producer puts its items; {@link #add} throws once a task has failed, to stop the producer. */
    public static final class Sink<T> {
        private final Run<?, T> run;

        private Sink(Run<?, T> run) {
            this.run = run;
        }

        /**
         * Adds an item; while more than {@link #BACKLOG} wait, the producer runs the oldest
         * itself before it goes on, so a producer faster than the tasks neither holds every
         * item at once nor leaves its core idle.
         */
        public void add(T item) throws IOException {
            if (run.failure.get() != null) {
                throw new Stopped();
            }
            run.pending.incrementAndGet();
            run.work.offerLast(item);
            if (run.work.size() > BACKLOG) {
                Object own = run.work.pollFirst();
                if (own == STOP) { // a task failed meanwhile: the stop is a worker's
                    run.work.offerFirst(own);
                    throw new Stopped();
                }
                if (own != null) {
                    run.performAsCaller(own);
                }
            }
        }
    }

    /** Items a producer may run ahead of the tasks: enough that no worker waits for the next. */
    static final int BACKLOG = 1024;

    /**
     * At most this many threads, whatever is asked: each of the JVM's threads takes a few hundred
     * KiB of native memory, and hashing is CPU-bound: more threads than this cannot make it faster.
     */
    public static final int MAX_THREADS = 256;

    /** A share of offered work, as the deque carries it. */
    private record Token(Shared<?> job) {}

    /** What tells a worker it is done. */
    private static final Object STOP = new Object();

    /** Thrown by {@link Sink#add} into the producer when a task has failed; that failure is what the run throws. */
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
     * {@link #forEach}, where tasks may offer work to the other workers through sharing (or
     * null): on as many threads as asked even for fewer items, since one item's work may then
     * be shared.
     */
    public static <S extends AutoCloseable, T> void forEach(List<T> items, int threads, Supplier<S> state,
            Task<S, T> task, Sharing<S> sharing) throws IOException {
        int n = sharing != null ? threads : Math.min(threads, items.size());
        Run<S, T> run = new Run<>(Math.max(1, Math.min(n, MAX_THREADS)), state, task, sharing);
        run.pending.addAndGet(items.size());
        run.work.addAll(items);
        run.execute(null);
    }

    /**
     * Like {@link #forEach}, with the items arriving while the tasks run: the producer runs on
     * the caller's thread and threads - 1 workers take its items as they come, then the caller
     * joins them. For a walk that would otherwise leave the other cores idle until it ends.
     * A producer that runs ahead by more than {@link #BACKLOG} items runs tasks too, with the
     * state the caller then keeps as a worker.
     */
    public static <S extends AutoCloseable, T> void forEachProduced(Producer<T> producer, int threads,
            Supplier<S> state, Task<S, T> task) throws IOException {
        forEachProduced(producer, threads, state, task, null);
    }

    /** {@link #forEachProduced}, where tasks may offer work to the other workers through sharing (or null). */
    public static <S extends AutoCloseable, T> void forEachProduced(Producer<T> producer, int threads,
            Supplier<S> state, Task<S, T> task, Sharing<S> sharing) throws IOException {
        Run<S, T> run = new Run<>(Math.max(1, Math.min(threads, MAX_THREADS)), state, task, sharing);
        run.execute(producer);
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

    /** One forEach or forEachProduced. */
    private static final class Run<S extends AutoCloseable, T> {
        final int workers;
        final Supplier<S> state;
        final Task<S, T> task;
        final Sharing<S> sharing;
        final LinkedBlockingDeque<Object> work = new LinkedBlockingDeque<>();
        /** Items added and not yet done; the workers stop once production ended and this is 0. */
        final AtomicInteger pending = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        /** Whether the stops were queued: once, at the end or at the first failure. */
        private final AtomicBoolean stopped = new AtomicBoolean();
        final Lazy<S> callerState;
        private volatile boolean produced;

        Run(int workers, Supplier<S> state, Task<S, T> task, Sharing<S> sharing) {
            this.workers = workers;
            this.state = state;
            this.task = task;
            this.sharing = sharing;
            this.callerState = new Lazy<>(state);
            if (sharing != null) {
                sharing.run = this;
            }
        }

        /** Runs the producer (if any) on this thread with workers - 1 others taking its items, then works too. */
        void execute(Producer<T> producer) throws IOException {
            try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, workers - 1),
                    Thread.ofPlatform().name("composefs-worker-", 1).factory())) {
                for (int i = 1; i < workers; i++) {
                    pool.execute(() -> work(new Lazy<>(state)));
                }
                if (producer != null) {
                    try {
                        producer.produce(new Sink<>(this));
                    } catch (Stopped e) {
                        // a task failed: that failure is thrown below
                    } catch (Throwable t) {
                        fail(t);
                    }
                }
                produced = true;
                finishIfDone();
                work(callerState);
            } // closing the pool waits for its workers
            rethrow();
        }

        /** Runs next on the caller's (the producer's) thread, with its state. */
        void performAsCaller(Object next) throws IOException {
            perform(next, callerState);
        }

        /** Takes work until a stop: items, tokens of shared work; closes its state at the end. */
        private void work(Lazy<S> mine) {
            try (mine) {
                for (Object next = work.takeFirst(); next != STOP; next = work.takeFirst()) {
                    perform(next, mine);
                }
            } catch (Throwable t) {
                fail(t);
            }
        }

        @SuppressWarnings("unchecked") // tokens carry jobs of the run's state type; items are T
        void perform(Object next, Lazy<S> mine) throws IOException {
            if (next instanceof Token(Shared<?> shared)) {
                Shared<S> job = (Shared<S>) shared;
                while (failure.get() == null && sharing.offered.contains(job) && job.runPart(mine.get())) {
                    // until every part is taken
                }
                return;
            }
            try {
                if (failure.get() == null) {
                    task.run(mine.get(), (T) next);
                }
            } finally {
                pending.decrementAndGet();
                finishIfDone();
            }
        }

        /** Once production ended and no item is left to do, one stop per worker (tokens may still be queued: harmless). */
        private void finishIfDone() {
            if (produced && pending.get() == 0 && !stopped.getAndSet(true)) {
                for (int i = 0; i < workers; i++) {
                    work.offerLast(STOP);
                }
            }
        }

        /** Records the first failure and stops the workers at once. */
        private void fail(Throwable t) {
            failure.compareAndSet(null, t);
            if (!stopped.getAndSet(true)) {
                work.clear();
                for (int i = 0; i < workers; i++) {
                    work.offerFirst(STOP);
                }
            }
        }

        private void rethrow() throws IOException {
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
}
