package dev.composefs.core.fsverity;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

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

    private final Alg alg;
    private final int digestSize;
    private final MessageDigest sha;
    /**
     * The SHA256_CTX for libcrypto where it loads (see openssl_sha_h) and the algorithm is
     * SHA-256; null where the JDK's digest hashes.
     */
    private final byte[] shaContext;
    private final byte[] block = new byte[BLOCK_SIZE];
    private static final byte[] ZEROS = new byte[BLOCK_SIZE]; // never written
    private int blockFill;
    private long size;
    private final List<byte[]> levels = new ArrayList<>();
    private final List<int[]> fills = new ArrayList<>();
    private final List<long[]> counts = new ArrayList<>();

    public FsVerity() {
        this(Alg.SHA256);
    }

    public FsVerity(Alg alg) {
        this(alg, true);
    }

    /** With useLibcrypto false, the JDK's SHA-256 even where libcrypto loads (tests compare both). */
    FsVerity(Alg alg, boolean useLibcrypto) {
        this.alg = alg;
        this.digestSize = alg.size;
        shaContext = useLibcrypto && alg == Alg.SHA256 && dev.composefs.bindings.openssl_sha_h.available()
                ? dev.composefs.bindings.openssl_sha_h.newContext() : null;
        try {
            sha = MessageDigest.getInstance(alg.jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no " + alg.jdkName, e);
        }
    }

    public void update(byte[] data, int off, int len) {
        size += len;
        while (len > 0) {
            if (blockFill == 0 && len >= BLOCK_SIZE) {
                hashBlock(data, off, BLOCK_SIZE, 0); // whole block straight from the caller's buffer
                off += BLOCK_SIZE;
                len -= BLOCK_SIZE;
                continue;
            }
            int n = Math.min(len, BLOCK_SIZE - blockFill);
            System.arraycopy(data, off, block, blockFill, n);
            blockFill += n;
            off += n;
            len -= n;
            if (blockFill == BLOCK_SIZE) {
                hashBlock(block, 0, BLOCK_SIZE, 0);
                blockFill = 0;
            }
        }
    }

    public void update(byte[] data) {
        update(data, 0, data.length);
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
        sha.reset();
        blockFill = 0;
        size = 0;
        for (int i = 0; i < levels.size(); i++) {
            fills.get(i)[0] = 0;
            counts.get(i)[0] = 0;
        }
    }

    /**
     * Hashes one block, src[off, off+len) zero-padded to 4096 bytes, into the next slot of level,
     * and a level block that fills up into the level above: no garbage per block. The padding is
     * hashed from ZEROS rather than written into the buffers: zero-filling the tails of two 4 KiB
     * buffers per file was 5% of a digest run's CPU (C1 fills byte by byte).
     */
    private void hashBlock(byte[] src, int off, int len, int level) {
        if (levels.size() == level) {
            levels.add(new byte[BLOCK_SIZE]);
            fills.add(new int[1]);
            counts.add(new long[1]);
        }
        byte[] buf = levels.get(level);
        int[] fill = fills.get(level);
        if (shaContext != null) {
            dev.composefs.bindings.openssl_sha_h.init(shaContext);
            dev.composefs.bindings.openssl_sha_h.update(shaContext, src, off, len);
            if (len < BLOCK_SIZE) {
                dev.composefs.bindings.openssl_sha_h.update(shaContext, ZEROS, 0, BLOCK_SIZE - len);
            }
            dev.composefs.bindings.openssl_sha_h.finish(shaContext, buf, fill[0]);
        } else {
            sha.update(src, off, len);
            sha.update(ZEROS, 0, BLOCK_SIZE - len);
            try {
                sha.digest(buf, fill[0], digestSize);
            } catch (java.security.DigestException e) {
                throw new IllegalStateException(alg.jdkName + " digest does not fit " + digestSize + " bytes", e);
            }
        }
        fill[0] += digestSize;
        counts.get(level)[0]++;
        if (fill[0] == BLOCK_SIZE) {
            fill[0] = 0;
            hashBlock(buf, 0, BLOCK_SIZE, level + 1);
        }
    }

    /** The digest of everything passed to update; call reset() before reusing this object. */
    public byte[] digest() {
        byte[] root = new byte[digestSize];
        if (size > 0) {
            if (blockFill > 0) {
                hashBlock(block, 0, blockFill, 0);
                blockFill = 0;
            }
            for (int level = 0;; level++) {
                if (counts.get(level)[0] == 1) {
                    System.arraycopy(levels.get(level), 0, root, 0, digestSize);
                    break;
                }
                int[] fill = fills.get(level);
                if (fill[0] > 0) {
                    int n = fill[0];
                    fill[0] = 0;
                    hashBlock(levels.get(level), 0, n, level + 1);
                }
            }
        }
        // struct fsverity_descriptor
        ByteBuffer d = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        d.put(0, (byte) 1); // version
        d.put(1, (byte) alg.number); // FS_VERITY_HASH_ALG_*
        d.put(2, (byte) 12); // log2(block size)
        d.put(3, (byte) 0); // salt size
        d.putLong(8, size);
        d.put(16, root);
        if (shaContext != null) {
            byte[] out = new byte[DIGEST_SIZE];
            dev.composefs.bindings.openssl_sha_h.init(shaContext);
            dev.composefs.bindings.openssl_sha_h.update(shaContext, d.array(), 0, 256);
            dev.composefs.bindings.openssl_sha_h.finish(shaContext, out, 0);
            return out;
        }
        sha.update(d.array());
        return sha.digest();
    }

    public static byte[] of(byte[] data) {
        return of(data, Alg.SHA256);
    }

    public static byte[] of(byte[] data, Alg alg) {
        FsVerity v = new FsVerity(alg);
        v.update(data);
        return v.digest();
    }

    public static byte[] of(InputStream in) throws IOException {
        FsVerity v = new FsVerity();
        byte[] buf = new byte[1 << 16];
        int n;
        while ((n = in.read(buf)) > 0) {
            v.update(buf, 0, n);
        }
        return v.digest();
    }

    public static byte[] of(Path file) throws IOException {
        return of(file, Alg.SHA256);
    }

    /** The fs-verity digest of a file with the given algorithm. */
    public static byte[] of(Path file, Alg alg) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FsVerity v = new FsVerity(alg);
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
        b.put("FSVerity".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.putShort((short) alg.number).putShort((short) digest.length).put(digest);
        return b.array();
    }

    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }
}
