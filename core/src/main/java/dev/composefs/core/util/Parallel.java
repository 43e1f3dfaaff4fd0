package dev.composefs.core.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
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

    public static <S extends AutoCloseable, T> void forEach(List<T> items, int threads, Supplier<S> state,
            Task<S, T> task) throws IOException {
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            try (S s = state.get()) {
                for (int i; failure.get() == null && (i = next.getAndIncrement()) < items.size(); ) {
                    task.run(s, items.get(i));
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
        int n = Math.max(1, Math.min(threads, items.size()));
        List<Thread> started = new ArrayList<>();
        for (int i = 1; i < n; i++) {
            started.add(Thread.ofPlatform().name("composefs-worker-" + i).start(worker));
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
