package dev.composefs.core.fsverity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Java digest against fsverity-utils' `fsverity digest` on the same files. */
class FsVerityTest {
    @TempDir
    static Path tmp;

    private static final long HASH_BLOCK = 4096L * 128;

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {0, 1, 4095, 4096, 4097, 8192, HASH_BLOCK, HASH_BLOCK + 1, 3 * HASH_BLOCK + 17,
        128 * HASH_BLOCK + 1})
    void matchesFsverityDigest(long size) throws Exception {
        Path f = tmp.resolve("f" + size);
        byte[] data = new byte[(int) size];
        new Random(size).nextBytes(data);
        Files.write(f, data);
        assertEquals(reference(f), FsVerity.hex(FsVerity.of(f)));
        assertEquals(reference(f), FsVerity.hex(FsVerity.of(data)), "byte[] and file agree");
        FsVerity jdk = new FsVerity(FsVerity.Alg.SHA256, false);
        jdk.update(data);
        assertEquals(reference(f), FsVerity.hex(jdk.digest()), "the JDK's SHA-256, as where libcrypto is missing");
    }

    /**
     * Native memory fed in odd pieces (whole blocks are hashed in place, the rest through the
     * partial block), and a heap segment, against fsverity-utils; with libcrypto and the JDK.
     */
    @ParameterizedTest(name = "segments {0} bytes")
    @ValueSource(longs = {0, 1, 4096, 3 * HASH_BLOCK + 17})
    void segmentsInAnyPiecesMatchFsverityDigest(long size) throws Exception {
        Path f = tmp.resolve("m" + size);
        byte[] data = new byte[(int) size];
        new Random(size + 7).nextBytes(data);
        Files.write(f, data);
        String expected = reference(f);
        for (boolean libcrypto : new boolean[] {true, false}) {
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                java.lang.foreign.MemorySegment seg = arena.allocate(size + 3).asSlice(3); // unaligned
                java.lang.foreign.MemorySegment.copy(data, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
                FsVerity v = new FsVerity(FsVerity.Alg.SHA256, libcrypto);
                Random pieces = new Random(size);
                for (long off = 0; off < size; ) {
                    long n = Math.min(size - off, 1 + pieces.nextInt(3 * FsVerity.BLOCK_SIZE));
                    v.update(seg, off, n);
                    off += n;
                }
                assertEquals(expected, FsVerity.hex(v.digest()), "native, libcrypto " + libcrypto);
                v.reset();
                v.update(java.lang.foreign.MemorySegment.ofArray(data), 0, size);
                assertEquals(expected, FsVerity.hex(v.digest()), "heap segment after reset, libcrypto " + libcrypto);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void libcryptoIsUsedWhereItIsInstalled() {
        boolean installed = java.nio.file.Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"))
                || java.nio.file.Files.exists(Path.of("/usr/lib/aarch64-linux-gnu/libcrypto.so.3"));
        org.junit.jupiter.api.Assumptions.assumeTrue(installed, "no libcrypto.so.3 here (Debian's libssl3)");
        assertTrue(dev.composefs.bindings.openssl_sha_h.available(), "SHA256_Init/Update/Final link from libcrypto");
    }

    @ParameterizedTest(name = "sparse {0} bytes")
    @ValueSource(longs = {(1L << 30) + 4097})
    void matchesOnLargeSparseFiles(long size) throws Exception {
        Path f = tmp.resolve("sparse");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
            raf.seek(size / 2);
            raf.write("middle".getBytes(StandardCharsets.US_ASCII));
        }
        assertEquals(reference(f), FsVerity.hex(FsVerity.of(f)));
    }

    /** SHA-512 Merkle trees (64 hashes per block), for signatures made with --hash-alg=sha512. */
    @ParameterizedTest(name = "sha512 {0} bytes")
    @ValueSource(longs = {0, 1, 4096, 4097, 4096L * 64, 4096L * 64 + 1, 4096L * 64 * 64 + 5})
    void sha512MatchesFsverityDigest(long size) throws Exception {
        Path f = tmp.resolve("s" + size);
        byte[] data = new byte[(int) size];
        new Random(size).nextBytes(data);
        Files.write(f, data);
        assertEquals(reference(f, "sha512"), FsVerity.hex(FsVerity.of(f, FsVerity.Alg.SHA512)));
    }

    /**
     * Spans hashed apart, each by a digester of its own (as the workers of a scan do), joined in
     * order and followed by the rest of the file: the digest fsverity-utils computes for the
     * whole, with libcrypto and with the JDK's SHA-256, and with SHA-512 (256 KiB spans).
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {HASH_BLOCK, HASH_BLOCK + 1, 3 * HASH_BLOCK + 4095, 129 * HASH_BLOCK, 129 * HASH_BLOCK + 77})
    void spansHashedApartAndJoinedMatchFsverityDigest(long size) throws Exception {
        Path f = tmp.resolve("spans" + size);
        byte[] data = new byte[(int) size];
        new Random(size ^ 0x5a).nextBytes(data);
        Files.write(f, data);
        for (boolean libcrypto : new boolean[] {true, false}) {
            for (FsVerity.Alg alg : FsVerity.Alg.values()) {
                try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                    java.lang.foreign.MemorySegment native_ = arena.allocate(size);
                    java.lang.foreign.MemorySegment.copy(data, 0, native_, java.lang.foreign.ValueLayout.JAVA_BYTE, 0,
                            data.length);
                    FsVerity joined = new FsVerity(alg, libcrypto);
                    long span = joined.span();
                    long spans = size / span;
                    java.lang.foreign.MemorySegment hashes = java.lang.foreign.MemorySegment.ofArray(
                            new byte[(int) spans * alg.size]);
                    for (long i = 0; i < spans; i++) {
                        FsVerity apart = new FsVerity(alg, libcrypto);
                        apart.update(native_, i * span, span);
                        apart.spanHash(hashes, i * alg.size);
                    }
                    joined.addSpans(hashes, spans);
                    joined.update(native_, spans * span, size - spans * span);
                    String name = alg.name().toLowerCase(java.util.Locale.ROOT);
                    assertEquals(reference(f, name), FsVerity.hex(joined.digest()),
                            name + (libcrypto ? ", libcrypto where it loads" : ", the JDK's digest"));
                }
            }
        }
    }

    /** struct fsverity_formatted_digest, as `fsverity digest --for-builtin-sig` prints it. */
    @Test
    void formattedDigestAsFsverityPrintsIt() throws Exception {
        Path f = Files.write(tmp.resolve("formatted"), new byte[10000]);
        for (FsVerity.Alg alg : FsVerity.Alg.values()) {
            String name = alg.name().toLowerCase(java.util.Locale.ROOT);
            Process p = new ProcessBuilder("fsverity", "digest", "--compact", "--for-builtin-sig", "--hash-alg=" + name,
                    f.toString()).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
            assertEquals(0, p.waitFor());
            assertEquals(out, FsVerity.hex(FsVerity.formattedDigest(alg, FsVerity.of(f, alg))), name);
        }
    }

    static String reference(Path f) throws IOException, InterruptedException {
        return reference(f, "sha256");
    }

    static String reference(Path f, String alg) throws IOException, InterruptedException {
        boolean installed = Files.isExecutable(Path.of("/usr/bin/fsverity"));
        if ("true".equals(System.getenv("CI"))) { // bin/test installs it: a CI run without it tests nothing here
            assertTrue(installed, "CI: fsverity-utils is not installed (bin/test installs it)");
        }
        assumeTrue(installed, "fsverity-utils is not installed (bin/test installs it)");
        Process p = new ProcessBuilder("fsverity", "digest", "--compact", "--hash-alg=" + alg, f.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertEquals(0, p.waitFor(), "fsverity digest " + f);
        return out;
    }
}
