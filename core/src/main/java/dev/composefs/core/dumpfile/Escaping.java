package dev.composefs.core.dumpfile;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** The escaping of composefs-dump(5): \\, \n, \r, \t and \xHH. */
public final class Escaping {
    private Escaping() {}

    public static final int STANDARD = 0;
    public static final int NOESCAPE_SPACE = 1;
    public static final int ESCAPE_EQUAL = 2;
    public static final int ESCAPE_LONE_DASH = 4;

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** s (Latin-1 byte string) escaped with the given flags, as bytes. */
    /** A name, path or key for an error message: escaped like a dump, cut after 200 bytes. */
    public static String printable(String s) {
        var out = new ByteArrayOutputStream();
        escape(out, s.length() > 200 ? s.substring(0, 200) : s, NOESCAPE_SPACE);
        return out.toString(StandardCharsets.ISO_8859_1) + (s.length() > 200 ? "..." : "");
    }

    public static byte[] escape(String s, int flags) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length() + 8);
        escape(out, s, flags);
        return out.toByteArray();
    }

    /** Appends s (Latin-1 byte string) escaped as upstream's print_escaped does. */
    static void escape(ByteArrayOutputStream out, String s, int flags) {
        int len = s.length();
        if ((flags & ESCAPE_LONE_DASH) != 0 && len == 1 && s.charAt(0) == '-') {
            hex(out, '-');
            return;
        }
        for (int i = 0; i < len; i++) {
            escapeByte(out, s.charAt(i), flags);
        }
    }

    static void escape(ByteArrayOutputStream out, byte[] b, int flags) {
        if ((flags & ESCAPE_LONE_DASH) != 0 && b.length == 1 && b[0] == '-') {
            hex(out, '-');
            return;
        }
        for (byte x : b) {
            escapeByte(out, x & 0xff, flags);
        }
    }

    private static void escapeByte(ByteArrayOutputStream out, int c, int flags) {
        switch (c) {
            case '\\' -> {
                out.write('\\');
                out.write('\\');
            }
            case '\n' -> {
                out.write('\\');
                out.write('n');
            }
            case '\r' -> {
                out.write('\\');
                out.write('r');
            }
            case '\t' -> {
                out.write('\\');
                out.write('t');
            }
            default -> {
                boolean printable = (flags & NOESCAPE_SPACE) != 0 ? c >= 0x20 && c < 0x7f : c > 0x20 && c < 0x7f;
                if (c == '=' && (flags & ESCAPE_EQUAL) != 0 || !printable) {
                    hex(out, c);
                } else {
                    out.write(c);
                }
            }
        }
    }

    private static void hex(ByteArrayOutputStream out, int c) {
        out.write('\\');
        out.write('x');
        out.write(HEX[(c >> 4) & 0xf]);
        out.write(HEX[c & 0xf]);
    }

    /**
     * Unescapes buf[from, to) into a Latin-1 byte string; returns null and leaves the reason in
     * err[0] on a bad escape.
     */
    static String unescape(byte[] buf, int from, int to, String[] err) {
        int n = 0;
        char[] out = new char[to - from];
        for (int i = from; i < to; i++) {
            int c = buf[i] & 0xff;
            if (c != '\\') {
                out[n++] = (char) c;
                continue;
            }
            if (++i >= to) {
                err[0] = "unterminated escape at end of field";
                return null;
            }
            switch (buf[i]) {
                case '\\' -> out[n++] = '\\';
                case 'n' -> out[n++] = '\n';
                case 'r' -> out[n++] = '\r';
                case 't' -> out[n++] = '\t';
                case 'x' -> {
                    int hi = i + 1 < to ? Character.digit(buf[i + 1], 16) : -1;
                    int lo = i + 2 < to ? Character.digit(buf[i + 2], 16) : -1;
                    if (hi < 0 || lo < 0) {
                        err[0] = "invalid \\x escape (two hex digits expected)";
                        return null;
                    }
                    out[n++] = (char) (hi << 4 | lo);
                    i += 2;
                }
                default -> {
                    err[0] = "invalid escape '\\" + (char) (buf[i] & 0xff) + "'";
                    return null;
                }
            }
        }
        return new String(out, 0, n);
    }
}
