package dev.composefs.core.oci;

import com.github.luben.zstd.ZstdInputStream;
import dev.composefs.core.oci.LayerTree.Dir;
import dev.composefs.core.oci.LayerTree.Entry;
import dev.composefs.core.oci.LayerTree.Leaf;
import dev.composefs.core.repository.ObjectStore;
import dev.composefs.core.tar.TarReader;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Node;
import dev.composefs.core.util.Progress;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Imports a resolved image into an object store: its layers are read in parallel, each streamed
 * through its digest check, decompression and tar reader straight into the store (nothing is
 * unpacked to disk), then merged in order into the image's tree. No tree comes out unless every
 * layer matched both its blob digest and its diff_id; objects stored on the way are named by
 * their own content, so a failed import leaves only valid objects (which gc collects).
 */
public final class OciImport {
    private OciImport() {}

    /** mkcomposefs' tree options, and how many layers are read at once. */
    public record Options(boolean useEpoch, boolean skipXattrs, boolean userXattrs, int threads) {
        public Options {
            if (skipXattrs && userXattrs) {
                throw new IllegalArgumentException("--skip-xattrs and --user-xattrs exclude each other");
            }
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1");
            }
        }
    }

    /** The image tree and what importing it did to the store. */
    public record Result(Directory root, int layers, long files, long objectsAdded, long bytesAdded,
            long objectsShared, long bytesShared) {}

    public static Result run(ResolvedImage image, ObjectStore store, Options options, Progress progress)
            throws IOException {
        List<LayerBlob> layers = image.layers();
        LayerReader.Counters counters = new LayerReader.Counters();
        long total = layers.stream().mapToLong(l -> Math.max(l.size(), 0)).sum();
        AtomicLong read = new AtomicLong();
        AtomicInteger done = new AtomicInteger();
        Runnable show = () -> progress.update("layers " + done.get() + "/" + layers.size() + ", "
                + Progress.bytes(read.get()) + (total > 0 ? " of " + Progress.bytes(total) : "") + ", "
                + counters.files().get() + " files, " + counters.added().get() + " new objects");
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(options.threads(), layers.size())),
                r -> {
                    Thread t = new Thread(r, "oci-layer");
                    t.setDaemon(true);
                    return t;
                });
        // hashing and storing: CPU-bound hashing and fsync-bound writes, so more threads than cores
        ExecutorService hashPool = Executors.newFixedThreadPool(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()),
                r -> {
                    Thread t = new Thread(r, "oci-hash");
                    t.setDaemon(true);
                    return t;
                });
        LayerReader.Hashers hashers = new LayerReader.Hashers(hashPool, new Semaphore(64 << 10));
        List<Future<Dir>> futures = new ArrayList<>();
        try {
            for (LayerBlob layer : layers) {
                futures.add(pool.submit(() -> {
                    Dir d = readLayer(layer, store, options, counters, hashers, n -> {
                        read.addAndGet(n);
                        if (progress.enabled()) {
                            show.run();
                        }
                    });
                    done.incrementAndGet();
                    return d;
                }));
            }
            Dir image0 = new Dir(LayerTree.implied());
            for (int i = 0; i < futures.size(); i++) {
                Dir layer = await(futures.get(i));
                LayerTree.merge(image0, layer, layers.get(i).name());
            }
            progress.clear();
            return new Result(freeze(image0), layers.size(), counters.files().get(), counters.added().get(),
                    counters.addedBytes().get(), counters.shared().get(), counters.sharedBytes().get());
        } finally {
            pool.shutdownNow();
            hashPool.shutdownNow();
            try {
                pool.awaitTermination(10, TimeUnit.SECONDS);
                hashPool.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            progress.clear();
        }
    }

    private static Dir await(Future<Dir> f) throws IOException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /** One layer: blob digest and size, decompression, diff_id, tar, into the store. */
    static Dir readLayer(LayerBlob layer, ObjectStore store, Options options, LayerReader.Counters counters,
            LayerReader.Hashers hashers, LongConsumer progress) throws IOException {
        String what = layer.name();
        try (InputStream raw = layer.opener().open()) {
            CheckedStream blob = new CheckedStream(raw, layer.digest(), layer.size(), what, progress);
            CheckedStream tarBytes = new CheckedStream(decompress(new BufferedInputStream(blob, 1 << 16), what),
                    layer.diffId(), -1, what + " (uncompressed, diff_id " + layer.diffId() + ")", null);
            Dir tree;
            try {
                tree = new LayerReader(options, store, counters, what, hashers).read(new TarReader(tarBytes, what));
                tarBytes.finish();
            } catch (ZipException e) {
                throw new IOException(what + ": corrupt gzip data: " + e.getMessage(), e);
            } catch (IOException e) {
                if (e.getClass().getName().startsWith("com.github.luben.zstd")) {
                    throw new IOException(what + ": corrupt zstd data: " + e.getMessage(), e);
                }
                throw e;
            }
            blob.finish();
            return tree;
        }
    }

    /** A layer's tar, from a blob that is plain, gzip or zstd (told by its magic, whatever the media type). */
    private static InputStream decompress(BufferedInputStream in, String what) throws IOException {
        in.mark(8);
        byte[] magic = in.readNBytes(6);
        in.reset();
        int b0 = magic.length > 0 ? magic[0] & 0xff : -1;
        int b1 = magic.length > 1 ? magic[1] & 0xff : -1;
        if (b0 == 0x1f && b1 == 0x8b) {
            return new GZIPInputStream(in, 1 << 16);
        }
        if (magic.length >= 4 && b0 == 0x28 && b1 == 0xb5 && (magic[2] & 0xff) == 0x2f && (magic[3] & 0xff) == 0xfd) {
            ZstdLibrary.load(what);
            return new ZstdInputStream(in);
        }
        if (magic.length >= 3 && b0 == 'B' && b1 == 'Z' && magic[2] == 'h') {
            throw new IOException(what + ": bzip2-compressed layers are not supported");
        }
        if (magic.length >= 6 && b0 == 0xfd && b1 == '7' && magic[2] == 'z' && magic[3] == 'X' && magic[4] == 'Z') {
            throw new IOException(what + ": xz-compressed layers are not supported");
        }
        return in;
    }

    /**
     * The merged tree as composefs nodes. Names of one inode (Leafs holding the same node) get
     * its name count as nlink; the first name in tree order is the inode, the others hardlinks,
     * as an image read back has them.
     */
    static Directory freeze(Dir root) {
        Map<Node, int[]> names = new IdentityHashMap<>();
        count(root, names);
        Map<Node, Node> made = new IdentityHashMap<>();
        return build(root, names, made);
    }

    private static void count(Dir d, Map<Node, int[]> names) {
        for (Entry e : d.children.values()) {
            if (e instanceof Dir sub) {
                count(sub, names);
            } else if (e instanceof Leaf l) {
                names.computeIfAbsent(l.node(), k -> new int[1])[0]++;
            }
        }
    }

    private static Directory build(Dir d, Map<Node, int[]> names, Map<Node, Node> made) {
        Directory out = new Directory(d.meta);
        for (var e : d.children.entrySet()) {
            Node n;
            if (e.getValue() instanceof Dir sub) {
                n = build(sub, names, made);
            } else {
                Node inode = ((Leaf) e.getValue()).node();
                Node existing = made.get(inode);
                if (existing != null) {
                    n = new Hardlink(existing);
                } else {
                    n = Node.withNlink(inode, names.get(inode)[0]);
                    made.put(inode, n);
                }
            }
            out.entries().put(e.getKey(), n);
        }
        return out;
    }
}
