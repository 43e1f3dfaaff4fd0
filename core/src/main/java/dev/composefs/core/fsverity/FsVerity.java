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
 * The fs-verity file digest as composefs uses it: SHA-256, 4096-byte blocks, no salt. Streams:
 * memory use is one block per Merkle tree level.
 */
public final class FsVerity {
    public static final int BLOCK_SIZE = 4096;
    public static final int DIGEST_SIZE = 32;
    private static final int HASHES_PER_BLOCK = BLOCK_SIZE / DIGEST_SIZE;

    private final MessageDigest sha;
    private final byte[] block = new byte[BLOCK_SIZE];
    private int blockFill;
    private long size;
    private final List<byte[]> levels = new ArrayList<>();
    private final List<int[]> fills = new ArrayList<>();
    private final List<long[]> counts = new ArrayList<>();

    public FsVerity() {
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    public void update(byte[] data, int off, int len) {
        size += len;
        while (len > 0) {
            if (blockFill == 0 && len >= BLOCK_SIZE) {
                sha.update(data, off, BLOCK_SIZE); // whole block straight from the caller's buffer
                addHash(0);
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
                sha.update(block);
                addHash(0);
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

    /** Finishes the hash pending in sha straight into the next slot of level: no garbage per block. */
    private void addHash(int level) {
        if (levels.size() == level) {
            levels.add(new byte[BLOCK_SIZE]);
            fills.add(new int[1]);
            counts.add(new long[1]);
        }
        byte[] buf = levels.get(level);
        int[] fill = fills.get(level);
        try {
            sha.digest(buf, fill[0], DIGEST_SIZE);
        } catch (java.security.DigestException e) {
            throw new IllegalStateException("SHA-256 digest does not fit 32 bytes", e);
        }
        fill[0] += DIGEST_SIZE;
        counts.get(level)[0]++;
        if (fill[0] == BLOCK_SIZE) {
            sha.update(buf);
            fill[0] = 0;
            addHash(level + 1);
        }
    }

    /** The digest of everything passed to update; call reset() before reusing this object. */
    public byte[] digest() {
        byte[] root = new byte[DIGEST_SIZE];
        if (size > 0) {
            if (blockFill > 0) {
                java.util.Arrays.fill(block, blockFill, BLOCK_SIZE, (byte) 0);
                sha.update(block);
                addHash(0);
                blockFill = 0;
            }
            for (int level = 0;; level++) {
                if (counts.get(level)[0] == 1) {
                    System.arraycopy(levels.get(level), 0, root, 0, DIGEST_SIZE);
                    break;
                }
                int[] fill = fills.get(level);
                if (fill[0] > 0) {
                    byte[] buf = levels.get(level);
                    java.util.Arrays.fill(buf, fill[0], BLOCK_SIZE, (byte) 0);
                    sha.update(buf);
                    fill[0] = 0;
                    addHash(level + 1);
                }
            }
        }
        // struct fsverity_descriptor
        ByteBuffer d = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        d.put(0, (byte) 1); // version
        d.put(1, (byte) 1); // FS_VERITY_HASH_ALG_SHA256
        d.put(2, (byte) 12); // log2(block size)
        d.put(3, (byte) 0); // salt size
        d.putLong(8, size);
        d.put(16, root);
        sha.update(d.array());
        return sha.digest();
    }

    public static byte[] of(byte[] data) {
        FsVerity v = new FsVerity();
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
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FsVerity v = new FsVerity();
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            while (ch.read(buf.clear()) > 0) {
                buf.flip();
                v.update(buf.array(), 0, buf.limit());
            }
            return v.digest();
        }
    }

    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }
}
