package dev.composefs.core.tar;

import dev.composefs.core.dumpfile.Escaping;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import dev.composefs.core.util.ChunkedInputStream;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a tar stream (ustar, GNU long names, PAX local and global headers) one entry at a time,
 * keeping every byte of names, link targets and PAX values as it is. Commons Compress decodes
 * PAX values as UTF-8, which turns a binary {@code SCHILY.xattr.security.capability} or a
 * non-UTF-8 name into replacement characters; container layers carry both, so this reader
 * exists. Sparse members and unknown types are refused with their name rather than guessed at.
 */
public final class TarReader {
    private static final int BLOCK = 512;
    /** PAX and GNU long-name headers are read into memory: bounded, since the input is untrusted. */
    private static final int EXTENSION_MAX = 16 << 20;
    private static final String SCHILY_XATTR = "SCHILY.xattr.";
    private static final String LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.";

    private final InputStream in;
    private final String what;
    private final byte[] header = new byte[BLOCK];
    private final Map<String, byte[]> global = new HashMap<>();
    private long remaining;
    private long padding;
    private boolean ended;

    /** what names the archive in errors (a layer's digest, a file name). */
    public TarReader(InputStream in, String what) {
        this.in = in;
        this.what = what;
    }

    /** The next entry, or null after the end-of-archive marker (or a clean end of input). */
    public TarEntry next() throws IOException {
        if (ended) {
            return null;
        }
        skip(remaining + padding);
        remaining = 0;
        padding = 0;
        Map<String, byte[]> pax = new HashMap<>();
        String gnuName = null;
        String gnuLink = null;
        while (true) {
            int n = in.readNBytes(header, 0, BLOCK);
            if (n == 0) {
                ended = true; // no end marker: accepted, as GNU tar and Go do
                return null;
            }
            if (n < BLOCK) {
                throw new IOException(what + ": truncated tar header");
            }
            if (allZero(header)) {
                ended = true;
                return null;
            }
            checkChecksum();
            char type = (char) (header[156] & 0xff);
            long size = number(124, 12, "size");
            if (size < 0) {
                throw new IOException(what + ": negative size in tar header of " + field(0, 100));
            }
            switch (type) {
                case 'x' -> parsePax(extension(size), pax);
                case 'g' -> parsePax(extension(size), global);
                case 'L' -> gnuName = cString(extension(size));
                case 'K' -> gnuLink = cString(extension(size));
                default -> {
                    return entry(type, size, pax, gnuName, gnuLink);
                }
            }
        }
    }

    /** The current entry's content; reading past it gives end of stream. */
    public InputStream content() {
        return new ChunkedInputStream() {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (remaining == 0) {
                    return -1;
                }
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) {
                    throw new EOFException(what + ": archive ends inside a member");
                }
                remaining -= n;
                return n;
            }
        };
    }

    private TarEntry entry(char type, long size, Map<String, byte[]> local, String gnuName, String gnuLink)
            throws IOException {
        Map<String, byte[]> pax = new HashMap<>(global);
        pax.putAll(local);
        boolean ustar = header[257] == 'u' && header[258] == 's' && header[259] == 't' && header[260] == 'a'
                && header[261] == 'r' && header[262] == 0; // POSIX; GNU's "ustar  " has no prefix field
        String name = string(pax, "path");
        if (name == null) {
            name = gnuName;
        }
        if (name == null) {
            name = field(0, 100);
            String prefix = ustar ? field(345, 155) : "";
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
        }
        String link = string(pax, "linkpath");
        if (link == null) {
            link = gnuLink != null ? gnuLink : field(157, 100);
        }
        if (pax.containsKey("size")) {
            size = decimal(pax, "size");
        }
        long uid = pax.containsKey("uid") ? decimal(pax, "uid") : number(108, 8, "uid");
        long gid = pax.containsKey("gid") ? decimal(pax, "gid") : number(116, 8, "gid");
        long mtimeSec = number(136, 12, "mtime");
        int mtimeNsec = 0;
        if (pax.containsKey("mtime")) {
            long[] t = time(pax.get("mtime"), name);
            mtimeSec = t[0];
            mtimeNsec = (int) t[1];
        }
        for (String key : pax.keySet()) {
            if (key.startsWith("GNU.sparse.")) {
                throw new IOException(what + ": " + shown(name) + ": sparse tar members are not supported");
            }
        }
        int mode = (int) (number(100, 8, "mode") & 07777);
        char t = switch (type) {
            case '\0' -> name.endsWith("/") ? TarEntry.DIRECTORY : TarEntry.REGULAR; // pre-POSIX archives
            case '0', '7' -> TarEntry.REGULAR;
            case '1', '2', '3', '4', '5', '6' -> type;
            case 'S' -> throw new IOException(what + ": " + shown(name) + ": sparse tar members are not supported");
            default -> throw new IOException(what + ": " + shown(name) + ": unsupported tar member type '"
                    + (type >= ' ' && type < 127 ? String.valueOf(type) : "\\x" + Integer.toHexString(type)) + "'");
        };
        int major = 0;
        int minor = 0;
        if (t == TarEntry.CHAR || t == TarEntry.BLOCK) {
            major = (int) number(329, 8, "devmajor");
            minor = (int) number(337, 8, "devminor");
        }
        LinkedHashMap<String, byte[]> xattrs = new LinkedHashMap<>();
        pax.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            if (e.getKey().startsWith(SCHILY_XATTR)) {
                xattrs.put(e.getKey().substring(SCHILY_XATTR.length()), e.getValue());
            }
        });
        for (var e : pax.entrySet()) {
            if (e.getKey().startsWith(LIBARCHIVE_XATTR)) {
                String key = urlDecode(e.getKey().substring(LIBARCHIVE_XATTR.length()), name);
                try {
                    xattrs.putIfAbsent(key, Base64.getDecoder().decode(e.getValue()));
                } catch (IllegalArgumentException ex) {
                    throw new IOException(what + ": " + shown(name) + ": bad base64 in PAX header " + e.getKey());
                }
            }
        }
        if (t != TarEntry.REGULAR) {
            size = 0; // header-only types carry no data whatever their size field says (as Go's reader)
        }
        remaining = size;
        padding = (BLOCK - size % BLOCK) % BLOCK;
        return new TarEntry(name, t, mode, uid, gid, size, mtimeSec, mtimeNsec, link, major, minor, xattrs);
    }

    private byte[] extension(long size) throws IOException {
        if (size > EXTENSION_MAX) {
            throw new IOException(what + ": extended header of " + size + " bytes (at most " + EXTENSION_MAX + ")");
        }
        byte[] data = in.readNBytes((int) size);
        if (data.length != size) {
            throw new EOFException(what + ": archive ends inside an extended header");
        }
        skip((BLOCK - size % BLOCK) % BLOCK);
        return data;
    }

    /** PAX records "LEN KEY=VALUE\n"; values stay raw bytes. An empty value removes the key. */
    private void parsePax(byte[] data, Map<String, byte[]> into) throws IOException {
        int pos = 0;
        while (pos < data.length) {
            if (data[pos] == 0) {
                break; // NUL padding after the last record
            }
            int sp = pos;
            long len = 0;
            while (sp < data.length && data[sp] >= '0' && data[sp] <= '9' && len < Integer.MAX_VALUE) {
                len = len * 10 + (data[sp++] - '0');
            }
            int end = pos + (int) len;
            if (sp == pos || sp >= data.length || data[sp] != ' ' || len > data.length - pos || end <= sp + 1
                    || data[end - 1] != '\n') {
                throw new IOException(what + ": malformed PAX header record at byte " + pos);
            }
            int eq = sp + 1;
            while (eq < end && data[eq] != '=') {
                eq++;
            }
            if (eq >= end) {
                throw new IOException(what + ": malformed PAX header record at byte " + pos + " (no '=')");
            }
            String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.ISO_8859_1);
            byte[] value = Arrays.copyOfRange(data, eq + 1, end - 1);
            if (value.length == 0) {
                into.remove(key);
            } else {
                into.put(key, value);
            }
            pos = end;
        }
    }

    private static String string(Map<String, byte[]> pax, String key) {
        byte[] v = pax.get(key);
        return v == null ? null : new String(v, StandardCharsets.ISO_8859_1);
    }

    private long decimal(Map<String, byte[]> pax, String key) throws IOException {
        String v = string(pax, key);
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IOException(what + ": PAX " + key + "=" + v + ": not a number");
        }
    }

    /** A PAX time: [-]SECONDS[.FRACTION], as seconds and nanoseconds (0..999999999) after them. */
    private long[] time(byte[] raw, String name) throws IOException {
        String v = new String(raw, StandardCharsets.ISO_8859_1);
        try {
            BigDecimal d = new BigDecimal(v);
            BigDecimal sec = d.setScale(0, RoundingMode.FLOOR);
            long nsec = d.subtract(sec).movePointRight(9).setScale(0, RoundingMode.FLOOR).longValueExact();
            return new long[] {sec.longValueExact(), nsec};
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IOException(what + ": " + shown(name) + ": PAX mtime=" + v + ": not a time");
        }
    }

    private String urlDecode(String s, String name) throws IOException {
        try {
            byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < b.length; i++) {
                if (b[i] == '%' && i + 2 < b.length) {
                    out.write(Integer.parseInt(new String(b, i + 1, 2, StandardCharsets.ISO_8859_1), 16));
                    i += 2;
                } else {
                    out.write(b[i]);
                }
            }
            return out.toString(StandardCharsets.ISO_8859_1);
        } catch (NumberFormatException e) {
            throw new IOException(what + ": " + shown(name) + ": bad %-escape in xattr name " + s);
        }
    }

    private void checkChecksum() throws IOException {
        long stored = number(148, 8, "checksum");
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = i >= 148 && i < 156 ? ' ' : header[i];
            unsigned += b & 0xff;
            signed += (byte) b;
        }
        if (stored != unsigned && stored != signed) {
            throw new IOException(what + ": bad tar header checksum (not a tar archive, or corrupted)");
        }
    }

    /** An octal field (NUL/space terminated), or base-256 where the first byte has its top bit set. */
    private long number(int off, int len, String field) throws IOException {
        if ((header[off] & 0x80) != 0) {
            boolean negative = (header[off] & 0x40) != 0;
            long v = negative ? -1 : 0;
            v = (v << 8) | (header[off] & (negative ? 0xff : 0x7f));
            for (int i = 1; i < len; i++) {
                if (!negative && (v >>> 55) != 0) {
                    throw new IOException(what + ": tar header " + field + " out of range");
                }
                v = (v << 8) | (header[off + i] & 0xff);
            }
            return v;
        }
        int i = off;
        int end = off + len;
        while (i < end && (header[i] == ' ' || header[i] == 0)) {
            i++;
        }
        long v = 0;
        for (; i < end && header[i] != ' ' && header[i] != 0; i++) {
            int d = header[i] - '0';
            if (d < 0 || d > 7 || (v >>> 60) != 0) {
                if (off == 148) { // the checksum: no tar header at all (a text file, say), or a damaged one
                    throw new IOException(what + ": bad tar header checksum (not a tar archive, or corrupted)");
                }
                throw new IOException(what + ": bad number in tar header field " + field + " of " + shown(field(0, 100)));
            }
            v = v * 8 + d;
        }
        return v;
    }

    /** A member name in a message: escaped as in a dump (a name may hold newlines), and cut short. */
    private static String shown(String name) {
        return Escaping.printable(name);
    }

    private String field(int off, int len) {
        int end = off;
        while (end < off + len && header[end] != 0) {
            end++;
        }
        return new String(header, off, end - off, StandardCharsets.ISO_8859_1);
    }

    private static String cString(byte[] b) {
        int end = 0;
        while (end < b.length && b[end] != 0) {
            end++;
        }
        return new String(b, 0, end, StandardCharsets.ISO_8859_1);
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private void skip(long n) throws IOException {
        while (n > 0) {
            long s = in.skip(n);
            if (s <= 0) {
                if (in.read() < 0) {
                    throw new EOFException(what + ": archive ends inside a member");
                }
                s = 1;
            }
            n -= s;
        }
    }
}
