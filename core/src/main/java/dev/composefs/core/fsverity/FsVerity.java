package dev.composefs.core.fsverity;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * The fs-verity file digest: 4096-byte blocks, no salt, SHA-256 as composefs uses it (SHA-512
 * for signatures made with it, as fsverity-utils can). Streams: memory use is one block per
 * Merkle tree level.
 */
public final class FsVerity {
    public static final int BLOCK_SIZE = 4096;
    /** The SHA-256 digest size, composefs' only one. */
    public static final int DIGEST_SIZE = 32;

    /** fs-verity hash algorithms: their number in struct fsverity_descriptor, JDK name, digest size. */
    public enum Alg {
        SHA256(1, "SHA-256", 32), SHA512(2, "SHA-512", 64);

        public final int number;
        public final String jdkName;
        public final int size;

        Alg(int number, String jdkName, int size) {
            this.number = number;
            this.jdkName = jdkName;
            this.size = size;
        }
    }

    private static final int DESCRIPTOR_SIZE = 256; // struct fsverity_descriptor
    private static final byte[] ZEROS = new byte[BLOCK_SIZE]; // never written

    /** A zero block in native memory, never written: the padding of short blocks is hashed from here. */
    private static final class NativeZeros {
        static final MemorySegment BLOCK = Arena.global().allocate(BLOCK_SIZE);
    }

    private final Alg alg;
    private final int digestSize;
    private final Arena arena;
    /**
     * libcrypto's SHA256_CTX (see openssl_sha_h) where it loads and the algorithm is SHA-256;
     * null where the JDK's digest ({@link #sha}) hashes.
     */
    private final MemorySegment shaContext;
    private final MessageDigest sha;
    private final byte[] jdkDigest;
    // The hashed bytes are in native memory, where libcrypto reads them by address: the partial
    // block being filled, one block per Merkle tree level, the descriptor and the final digest.
    private final MemorySegment block;
    private final MemorySegment descriptor;
    private final byte[] descriptorBytes = new byte[DESCRIPTOR_SIZE];
    private final MemorySegment out;
    private int blockFill;
    private long size;
    private final List<MemorySegment> levels = new ArrayList<>();
    private int[] fills = new int[4];
    private long[] counts = new long[4];

    public FsVerity() {
        this(Alg.SHA256);
    }

    public FsVerity(Alg alg) {
        this(alg, true, Arena.ofAuto());
    }

    /** Its native buffers (about 9 KiB, more for files over 512 KiB) from arena, which must outlive its use. */
    public FsVerity(Alg alg, Arena arena) {
        this(alg, true, arena);
    }

    /** With useLibcrypto false, the JDK's SHA-256 even where libcrypto loads (tests compare both). */
    FsVerity(Alg alg, boolean useLibcrypto) {
        this(alg, useLibcrypto, Arena.ofAuto());
    }

    private FsVerity(Alg alg, boolean useLibcrypto, Arena arena) {
        this.alg = alg;
        this.digestSize = alg.size;
        this.arena = arena;
        boolean native_ = useLibcrypto && alg == Alg.SHA256 && dev.composefs.bindings.openssl_sha_h.available();
        shaContext = native_ ? arena.allocate(dev.composefs.bindings.openssl_sha_h.contextSize(), 8) : null;
        try {
            sha = native_ ? null : MessageDigest.getInstance(alg.jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no " + alg.jdkName, e);
        }
        jdkDigest = native_ ? null : new byte[digestSize];
        block = arena.allocate(BLOCK_SIZE, 8);
        descriptor = arena.allocate(DESCRIPTOR_SIZE, 8);
        out = arena.allocate(Alg.SHA512.size, 8);
    }

    public void update(byte[] data, int off, int len) {
        update(MemorySegment.ofArray(data), off, len);
    }

    public void update(byte[] data) {
        update(data, 0, data.length);
    }

    /**
     * The len bytes of src at off: whole blocks of native memory are hashed where they are
     * (a file read into a native buffer needs no copy to the heap); libcrypto reads by address,
     * so heap bytes go through the block buffer.
     */
    public void update(MemorySegment src, long off, long len) {
        Objects.checkFromIndexSize(off, len, src.byteSize());
        if (!src.scope().isAlive()) {
            throw new IllegalStateException("the segment's arena is closed");
        }
        size += len;
        boolean direct = shaContext == null || src.isNative();
        while (len > 0) {
            if (blockFill == 0 && len >= BLOCK_SIZE && direct) {
                hashBlock(src, off, BLOCK_SIZE, 0);
                off += BLOCK_SIZE;
                len -= BLOCK_SIZE;
                continue;
            }
            int n = (int) Math.min(len, BLOCK_SIZE - blockFill);
            MemorySegment.copy(src, off, block, blockFill, n);
            blockFill += n;
            off += n;
            len -= n;
            if (blockFill == BLOCK_SIZE) {
                hashBlock(block, 0, BLOCK_SIZE, 0);
                blockFill = 0;
            }
        }
    }

    public void update(ByteBuffer buf) {
        byte[] tmp = new byte[Math.min(buf.remaining(), 1 << 16)];
        while (buf.hasRemaining()) {
            int n = Math.min(tmp.length, buf.remaining());
            buf.get(tmp, 0, n);
            update(tmp, 0, n);
        }
    }

    /** Starts over for a new file, keeping the buffers and the MessageDigest (whose lookup is not free). */
    public void reset() {
        if (sha != null) {
            sha.reset();
        }
        blockFill = 0;
        size = 0;
        Arrays.fill(fills, 0);
        Arrays.fill(counts, 0);
    }

    /**
     * Hashes one block, src[off, off+len) zero-padded to 4096 bytes, into the next slot of level,
     * and a level block that fills up into the level above: no garbage per block. The padding is
     * hashed from a zero block rather than written into the buffers: zero-filling the tails of
     * two buffers per file is costly under C1, which fills byte by byte.
     */
    private void hashBlock(MemorySegment src, long off, int len, int level) {
        MemorySegment buf = level(level);
        hash(src, off, len, BLOCK_SIZE, buf, fills[level]);
        filled(level);
    }

    /** The block of hashes being filled at level, made with those below it where missing. */
    private MemorySegment level(int level) {
        while (levels.size() <= level) {
            if (levels.size() == fills.length) {
                fills = Arrays.copyOf(fills, fills.length * 2);
                counts = Arrays.copyOf(counts, counts.length * 2);
            }
            levels.add(arena.allocate(BLOCK_SIZE, 8));
        }
        return levels.get(level);
    }

    /** Counts the hash just put in level's block; a full block is hashed into the level above. */
    private void filled(int level) {
        fills[level] += digestSize;
        counts[level]++;
        if (fills[level] == BLOCK_SIZE) {
            fills[level] = 0;
            hashBlock(levels.get(level), 0, BLOCK_SIZE, level + 1);
        }
    }

    /**
     * Bytes of data whose block hashes fill one block of the tree (512 KiB with SHA-256): a
     * span. Spans of a file can be hashed apart ({@link #spanHash}), on any thread, and their
     * hashes joined in order ({@link #addSpans}) into the digest of the whole.
     */
    public long span() {
        return (long) (BLOCK_SIZE / digestSize) * BLOCK_SIZE;
    }

    /**
     * The hash of the one span of data passed to update since reset (exactly span() bytes),
     * written to out at outOff: the hash of the block of its blocks' hashes.
     */
    public void spanHash(MemorySegment out, long outOff) {
        if (size != span()) {
            throw new IllegalStateException("a span's hash needs exactly one span of data, not " + size + " bytes");
        }
        MemorySegment.copy(levels.get(1), 0, out, outOff, digestSize);
    }

    /**
     * Continues the digest with count spans of data hashed apart ({@link #spanHash}), their hashes in
     * order in spanHashes from offset 0: as if their bytes had been passed to update. The data
     * so far must be whole spans (none, after reset).
     */
    public void addSpans(MemorySegment spanHashes, long count) {
        if (size % span() != 0 || blockFill != 0) {
            throw new IllegalStateException("spans join a digest only at a span boundary");
        }
        for (long i = 0; i < count; i++) {
            MemorySegment buf = level(1);
            MemorySegment.copy(spanHashes, i * digestSize, buf, fills[1], digestSize);
            filled(1);
        }
        level(0); // the digest looks at the first level's count
        counts[0] += count * (BLOCK_SIZE / digestSize);
        size += count * span();
    }

    /** The digest of src[off, off+len) zero-padded to padTo bytes, written to dst at dstOff. */
    private void hash(MemorySegment src, long off, int len, int padTo, MemorySegment dst, long dstOff) {
        if (shaContext != null) {
            long ctx = shaContext.address();
            dev.composefs.bindings.openssl_sha_h.init(ctx);
            dev.composefs.bindings.openssl_sha_h.update(ctx, src.address() + off, len);
            if (padTo > len) {
                dev.composefs.bindings.openssl_sha_h.update(ctx, NativeZeros.BLOCK.address(), padTo - len);
            }
            dev.composefs.bindings.openssl_sha_h.finish(ctx, dst.address() + dstOff);
            return;
        }
        sha.update(src.asSlice(off, len).asByteBuffer());
        sha.update(ZEROS, 0, padTo - len);
        try {
            sha.digest(jdkDigest, 0, digestSize);
        } catch (DigestException e) {
            throw new IllegalStateException(alg.jdkName + " digest does not fit " + digestSize + " bytes", e);
        }
        MemorySegment.copy(jdkDigest, 0, dst, ValueLayout.JAVA_BYTE, dstOff, digestSize);
    }

    /** The digest of everything passed to update; call reset() before reusing this object. */
    public byte[] digest() {
        // struct fsverity_descriptor, filled on the heap and copied over once (byte stores,
        // not a ByteBuffer view, whose inlined accessors make C1's compilation of this large)
        byte[] d = descriptorBytes;
        Arrays.fill(d, (byte) 0);
        if (size > 0) {
            if (blockFill > 0) {
                hashBlock(block, 0, blockFill, 0);
                blockFill = 0;
            }
            for (int level = 0;; level++) {
                if (counts[level] == 1) {
                    MemorySegment.copy(levels.get(level), ValueLayout.JAVA_BYTE, 0, d, 16, digestSize); // the root hash
                    break;
                }
                if (fills[level] > 0) {
                    int n = fills[level];
                    fills[level] = 0;
                    hashBlock(levels.get(level), 0, n, level + 1);
                }
            }
        }
        d[0] = 1; // version
        d[1] = (byte) alg.number; // FS_VERITY_HASH_ALG_*
        d[2] = 12; // log2(block size)
        d[3] = 0; // salt size
        for (int i = 0; i < 8; i++) {
            d[8 + i] = (byte) (size >>> (8 * i)); // le64 data size
        }
        MemorySegment.copy(d, 0, descriptor, ValueLayout.JAVA_BYTE, 0, DESCRIPTOR_SIZE);
        hash(descriptor, 0, DESCRIPTOR_SIZE, DESCRIPTOR_SIZE, out, 0);
        byte[] digest = new byte[digestSize];
        MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 0, digest, 0, digestSize);
        return digest;
    }

    public static byte[] of(byte[] data) {
        return of(data, Alg.SHA256);
    }

    // The one-shot digests free their native buffers at once: a digest per small file of an
    // archive would otherwise leave them to the garbage collector by the thousand.
    public static byte[] of(byte[] data, Alg alg) {
        try (Arena arena = Arena.ofConfined()) {
            FsVerity v = new FsVerity(alg, arena);
            v.update(data);
            return v.digest();
        }
    }

    public static byte[] of(InputStream in) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            FsVerity v = new FsVerity(Alg.SHA256, arena);
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                v.update(buf, 0, n);
            }
            return v.digest();
        }
    }

    public static byte[] of(Path file) throws IOException {
        return of(file, Alg.SHA256);
    }

    /** The fs-verity digest of a file with the given algorithm. */
    public static byte[] of(Path file, Alg alg) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            FsVerity v = new FsVerity(alg, arena);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            while (ch.read(buf.clear()) > 0) {
                buf.flip();
                v.update(buf.array(), 0, buf.limit());
            }
            return v.digest();
        }
    }

    /**
     * struct fsverity_formatted_digest, what fs-verity signatures sign: "FSVerity", le16 hash
     * algorithm, le16 digest size, the digest.
     */
    public static byte[] formattedDigest(Alg alg, byte[] digest) {
        ByteBuffer b = ByteBuffer.allocate(12 + digest.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("FSVerity".getBytes(StandardCharsets.US_ASCII));
        b.putShort((short) alg.number).putShort((short) digest.length).put(digest);
        return b.array();
    }

    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }
}
