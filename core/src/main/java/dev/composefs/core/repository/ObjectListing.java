package dev.composefs.core.repository;

import dev.composefs.bindings.Scratch;
import dev.composefs.bindings.SyscallException;
import dev.composefs.bindings.dirent_h;
import dev.composefs.bindings.sys_stat_h;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * Which objects a store's subdirectories held when read whole, for an ingest that would otherwise
 * look up every file's object by name (a statx each; bench/ingest's warm-store runs show the
 * difference). A subdirectory is read once it has been looked up in often enough that
 * reading it costs less than the lookups so far: a few files into a large store never read one.
 * What is read is kept at about 40 bytes per object, and on ext4 the rule reads at most 4.5 (in
 * hashed directories) to 6 objects per lookup made: at most a few hundred bytes per file
 * ingested, whatever the store's size.
 * It only ever says "stored"; an object it has not seen (added by this or another writer since,
 * or in a directory that gives no entry types) is looked up on disk as before. Objects are
 * removed only by gc, which takes the store's exclusive lock while every writer holds the shared
 * one, so what was read stays true while the store is open.
 */
final class ObjectListing {
    /** An object's name past its subdirectory: the digest's last 31 bytes, in 62 hex digits. */
    private static final int NAME_BYTES = 31;
    /** Lookups in a subdirectory before reading it is first considered; again at every doubling. */
    private static final int FIRST_CONSIDERED = 16;
    /**
     * A subdirectory is read when its estimated entries are at most this many per lookup so far.
     * On ext4 with the dentries cached a lookup (statx) costs about what reading 4.7 entries
     * does, so reading pays off at that many entries per lookup so far; the estimate below
     * counts about 1.8 times the entries of a hashed ext4 directory, hence 8.
     */
    private static final int ENTRIES_PER_LOOKUP = 8;
    /**
     * Directory size (st_size) per entry, to estimate a subdirectory's entries before reading it.
     * File systems spend from tens to over a hundred bytes on an object's 62-character name
     * (ext4 more with its hash index); below ext4's, the estimate errs high, towards reading later.
     */
    private static final int DIR_BYTES_PER_ENTRY = 64;

    // Plain arrays, not atomic ones: their var handles spin method-handle classes at run time in
    // every ingest into a store. A Names, all final fields, is safely read racily.
    private final Names[] read = new Names[256];
    private final int[] lookups = new int[256]; // guarded by this

    /** True if the object with this digest was in its subdirectory, as a regular file, when that was read. */
    boolean holds(byte[] digest) {
        Names names = read[digest[0] & 0xff];
        return names != null && names.contains(digest);
    }

    /**
     * Counts a lookup on disk in the subdirectory of digest; true when reading it whole is worth
     * considering now (then {@link #consider}).
     */
    synchronized boolean lookedUp(byte[] digest) {
        int xx = digest[0] & 0xff;
        int n = ++lookups[xx]; // each count is one caller's: one of them considers
        return n >= FIRST_CONSIDERED && Integer.bitCount(n) == 1 && read[xx] == null;
    }

    /**
     * Reads the subdirectory of digest (open as dir, at where) if that costs less than the
     * lookups in it so far did, by its estimated entries; scratch may be null.
     */
    void consider(Scratch scratch, byte[] digest, int dir, String where) throws IOException {
        int xx = digest[0] & 0xff;
        try {
            long size = sys_stat_h.statx(scratch, dir, sys_stat_h.STATX_SIZE).size();
            if (size / DIR_BYTES_PER_ENTRY <= (long) lookups(xx) * ENTRIES_PER_LOOKUP) {
                Names names = Names.of(ObjectStore.list(dir, where));
                synchronized (this) {
                    read[xx] = names;
                }
            }
        } catch (SyscallException e) {
            throw new IOException(where + ": " + e.getMessage(), e);
        }
    }

    private synchronized int lookups(int xx) {
        return lookups[xx];
    }

    /**
     * One subdirectory's object names as 31-byte keys, in an open-addressing table of their
     * indexes (plus one; 0 is empty) hashed by their first four bytes, which are a digest's and so
     * uniform: about 40 bytes per object, where a set of strings would take 150.
     */
    private record Names(byte[] keys, int[] slots) {
        static Names of(List<dirent_h.Entry> entries) {
            byte[] keys = new byte[entries.size() * NAME_BYTES];
            int count = 0;
            for (dirent_h.Entry e : entries) {
                if (e.type() == dirent_h.DT_REG && decode(e.name(), keys, count * NAME_BYTES)) {
                    count++;
                }
            }
            int[] slots = new int[Integer.highestOneBit(Math.max(1, count)) * 4]; // at most half full
            int mask = slots.length - 1;
            for (int i = 0; i < count; i++) {
                int h = hash(keys, i * NAME_BYTES) & mask;
                while (slots[h] != 0) {
                    h = (h + 1) & mask;
                }
                slots[h] = i + 1;
            }
            return new Names(Arrays.copyOf(keys, count * NAME_BYTES), slots);
        }

        boolean contains(byte[] digest) {
            int mask = slots.length - 1;
            for (int h = hash(digest, 1) & mask; slots[h] != 0; h = (h + 1) & mask) {
                int at = (slots[h] - 1) * NAME_BYTES;
                if (Arrays.equals(keys, at, at + NAME_BYTES, digest, 1, 1 + NAME_BYTES)) {
                    return true;
                }
            }
            return false;
        }

        private static int hash(byte[] b, int at) {
            return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
        }

        /**
         * The name's 31 bytes into keys at at, if it is an object's name: exactly 62 lowercase hex
         * digits, as the store names them (anything else there is not an object to this listing).
         */
        private static boolean decode(byte[] name, byte[] keys, int at) {
            if (name.length != 2 * NAME_BYTES) {
                return false;
            }
            for (int i = 0; i < NAME_BYTES; i++) {
                int hi = digit(name[2 * i]);
                int lo = digit(name[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    return false;
                }
                keys[at + i] = (byte) (hi << 4 | lo);
            }
            return true;
        }

        private static int digit(byte c) {
            return DIGITS[c & 0xff];
        }

        /** Each byte's value as a lower-case hex digit, or -1: a table, as every name of a subdirectory is decoded. */
        private static final byte[] DIGITS = new byte[256];

        static {
            Arrays.fill(DIGITS, (byte) -1);
            for (int i = 0; i < 16; i++) {
                DIGITS["0123456789abcdef".charAt(i)] = (byte) i;
            }
        }
    }
}
