package dev.composefs.it;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * Random composefs-dump(5) texts for differential runs against upstream's mkcomposefs: trees
 * with every file type and field, names with every byte, big directories, deep nesting,
 * hardlinks and xattrs; then, for part of them, one damage of a kind upstream refuses or
 * treats specially. Each case says whether both tools must agree, or whether this project
 * refuses deliberately where upstream accepts input it then mishandles.
 */
final class DumpGenerator {
    /** SAME: identical image bytes, or both refuse. WE_REFUSE: a documented difference. */
    enum Expect { SAME, WE_REFUSE }

    record Case(String kind, byte[] dump, boolean strict, Expect expect) {}

    private static final int S_IFMT = 0170000;
    private static final int[] TYPES = {0100000, 0040000, 0120000, 0020000, 0060000, 0010000, 0140000};
    private static final String[] XATTR_PREFIXES = {"user.", "trusted.", "security.", "trusted.overlay.",
        "user.overlay.", "security.selinux", "system.posix_acl_access", "system.posix_acl_default"};
    private static final long S53 = 1L << 53;

    private final Random r;

    DumpGenerator(long seed) {
        this.r = new Random(seed);
    }

    /** One generated entry: its path (raw bytes), the type, and its line (escaped, no newline). */
    private record Entry(byte[] path, int type, String line) {}

    Case next() {
        List<Entry> entries = tree();
        List<String> lines = new ArrayList<>(entries.stream().map(Entry::line).toList());
        boolean strict = r.nextInt(3) == 0;
        boolean finalNewline = true;
        String kind = "tree";
        Expect expect = Expect.SAME;
        if (r.nextInt(100) < 45) {
            int k = r.nextInt(33);
            int i = lines.size() > 1 ? 1 + r.nextInt(lines.size() - 1) : 0; // a line after the root's, if any
            String line = lines.get(i);
            String[] f = line.split(" ", -1);
            switch (k) {
                case 0 -> { kind = "empty line"; lines.add(i, ""); }
                case 1 -> {
                    kind = "raw NUL";
                    int at = r.nextInt(line.length() + 1);
                    lines.set(i, line.substring(0, at) + '\0' + line.substring(at));
                }
                case 2 -> { kind = "hardlink with a directory's mode"; lines.add("/hl-dir 0 @40755 1 0 0 0 0.0 / - -"); }
                case 3 -> {
                    kind = "hardlink with other fields set";
                    lines.add("/hl-junk xx @100644 abc -1 q 77 nonsense " + pathField(entries.get(i).path()) + " junk zz");
                    if (entries.get(i).type() == 0040000) {
                        kind = "hardlink to a directory";
                        expect = Expect.WE_REFUSE; // upstream links the directory: a second name for it, a loop if below it
                    }
                }
                case 4 -> {
                    kind = "xattr part over 65535 bytes";
                    int n = 65400 + r.nextInt(300);
                    lines.set(i, line + " user.big=" + "v".repeat(n - 10));
                }
                case 5 -> { kind = "symlink with content"; lines.add("/sl 5 120777 1 0 0 0 0.0 hello hello -"); }
                case 6 -> {
                    long[] sizes = {Long.MAX_VALUE, S53, S53 + 1, S53 - 1, (1L << 62) + 12345, 4096L << 31, (4096L << 31) + 1};
                    long size = sizes[r.nextInt(sizes.length)];
                    kind = "size " + size;
                    lines.add("/huge " + size + " 100644 1 0 0 0 0.0 ab/cdef - -");
                }
                case 7 -> {
                    int len = 254 + r.nextInt(3);
                    kind = "xattr name of " + len + " bytes under trusted.overlay.";
                    lines.set(i, line + " trusted.overlay." + "n".repeat(len - 16) + "=1");
                }
                case 8 -> { kind = "no final newline"; finalNewline = false; }
                case 9 -> { kind = "duplicate line"; lines.add(i, line); }
                case 10 -> { kind = "no root"; lines.remove(0); }
                case 11 -> { kind = "entry before its parent"; lines.add(0, lines.remove(lines.size() - 1)); }
                case 12 -> {
                    kind = "too few fields";
                    int keep = 1 + r.nextInt(Math.min(f.length, 9));
                    lines.set(i, String.join(" ", List.of(f).subList(0, keep)));
                    if (keep > 2 && keep <= 8 && f[2].startsWith("@")) { // (the ninth field is the target)
                        kind = "hardlink without its target field";
                        expect = Expect.WE_REFUSE; // upstream links the empty path: the root directory
                    }
                }
                case 13 -> {
                    String[] bad = {"\\q", "\\x4", "\\", "\\xzz", "\\x"};
                    kind = "bad escape";
                    lines.set(i, f[0] + bad[r.nextInt(bad.length)] + line.substring(f[0].length()));
                }
                case 14 -> { kind = "mode without a valid type"; f[2] = r.nextBoolean() ? "0" : "170644"; lines.set(i, String.join(" ", f)); }
                case 15 -> {
                    // repeated and trailing slashes, in new paths beside existing entries and in hardlink targets
                    byte[] p = entries.get(i).path();
                    int type = entries.get(i).type();
                    String[] names = {"/.", "/..", "/a//b", "/x/", "//y", "//", "/a/./b"};
                    kind = "odd path";
                    lines.add(switch (r.nextInt(4)) {
                        case 0 -> names[r.nextInt(names.length)] + " 0 100644 1 0 0 0 0.0 - - -";
                        case 1 -> pathField(moreSlashes(concat(parentOf(p), "odd".getBytes(StandardCharsets.ISO_8859_1))))
                                + " 0 100644 1 0 0 0 0.0 - - -";
                        case 2 -> pathField(concat(p, new byte[0])) + " 0 100644 1 0 0 0 0.0 - - -";
                        default -> {
                            kind = "hardlink target with odd slashes";
                            if (type == 0040000) {
                                expect = Expect.WE_REFUSE; // upstream links the directory
                            }
                            byte[] t = moreSlashes(p);
                            yield "/odd-link 0 @" + oct(type | 0644) + " 1 0 0 0 0.0 "
                                    + pathField(r.nextBoolean() ? concat(t, new byte[0]) : t) + " - -";
                        }
                    });
                }
                case 16 -> { kind = "hardlink to nothing"; lines.add("/hl-none 0 @100644 1 0 0 0 0.0 /no/such/file - -"); }
                case 17 -> { kind = "hardlink to itself"; lines.add("/hl-self 0 @100644 1 0 0 0 0.0 /hl-self - -"); }
                case 18 -> {
                    kind = "rdev on a regular file";
                    lines.add("/rdev 0 100644 1 0 0 " + (1 + r.nextInt(1000)) + " 0.0 - - -");
                }
                case 19 -> { kind = "content size mismatch"; lines.add("/mis 4 100644 1 0 0 0 0.0 - abc -"); }
                case 20 -> {
                    int n = 4990 + r.nextInt(20);
                    kind = "inline content of " + n + " bytes";
                    lines.add("/inline " + n + " 100644 1 0 0 0 0.0 - " + "c".repeat(n) + " -");
                }
                case 21 -> {
                    int n = 4094 + r.nextInt(3);
                    kind = "payload of " + n + " bytes";
                    lines.add("/pl 10 100644 1 0 0 0 0.0 " + "p".repeat(n) + " - -");
                }
                case 22 -> {
                    int n = 4094 + r.nextInt(3);
                    kind = "symlink target of " + n + " bytes";
                    lines.add("/tl " + n + " 120777 1 0 0 0 0.0 " + "t".repeat(n) + " - -");
                }
                case 23 -> {
                    kind = "malformed digest";
                    expect = Expect.WE_REFUSE;
                    String[] bad = {"ab", "zz".repeat(32), "0".repeat(63), "0".repeat(65), "", "<none>"};
                    String d = bad[r.nextInt(bad.length)];
                    lines.add("/dg 10 100644 1 0 0 0 0.0 ab/cd -" + (d.equals("<none>") ? "" : " " + d));
                }
                case 24 -> {
                    kind = "uid beyond 32 bits";
                    expect = Expect.WE_REFUSE;
                    lines.add("/uid 0 100644 1 " + (4294967296L + r.nextInt(10)) + " 0 0 0.0 - - -");
                }
                case 31 -> {
                    kind = "nlink beyond 32 bits";
                    expect = Expect.WE_REFUSE; // upstream truncates it
                    lines.add("/nl 0 100644 " + (4294967296L + r.nextInt(5)) + " 0 0 0 0.0 - - -");
                }
                case 32 -> {
                    kind = "mtime nanoseconds beyond 32 bits";
                    expect = Expect.WE_REFUSE; // upstream truncates them
                    lines.add("/ns 0 100644 1 0 0 0 5." + (4294967296L + r.nextInt(5)) + " - - -");
                }
                case 25 -> {
                    kind = "relative path";
                    expect = Expect.WE_REFUSE;
                    lines.add("rel 0 100644 1 0 0 0 0.0 - - -");
                }
                case 26 -> {
                    String[] where = {"/nul\\x00name 0 100644 1 0 0 0 0.0 - - -", "/nulpl 10 100644 1 0 0 0 0.0 ab/c\\x00d - -",
                        "/nulsl 3 120777 1 0 0 0 0.0 a\\x00b - -", "/nulxa 0 100644 1 0 0 0 0.0 - - - user.a\\x00b=1"};
                    kind = "escaped NUL in a C string";
                    expect = Expect.WE_REFUSE; // upstream cuts the string there
                    lines.add(where[r.nextInt(where.length)]);
                }
                case 27 -> {
                    kind = "xattr without =";
                    lines.set(i, line + " user.noequals");
                }
                case 28 -> {
                    kind = "xattr over the per-inode limit";
                    int n = 32700 + r.nextInt(100);
                    lines.set(i, line + " user.a=" + "a".repeat(n / 2) + " user.b=" + "b".repeat(n / 2));
                }
                case 29 -> {
                    kind = "xattr set twice";
                    lines.set(i, line + " user.twice=" + "x".repeat(r.nextInt(30000)) + " user.twice=1");
                }
                case 30 -> {
                    int len = 255 + r.nextInt(2);
                    kind = "name of " + len + " bytes";
                    lines.add("/" + "N".repeat(len) + " 0 100644 1 0 0 0 0.0 - - -");
                }
                default -> throw new IllegalStateException("damage " + k);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < lines.size(); i++) {
            out.writeBytes(lines.get(i).getBytes(StandardCharsets.ISO_8859_1));
            if (i < lines.size() - 1 || finalNewline) {
                out.write('\n');
            }
        }
        return new Case(kind, out.toByteArray(), strict, expect);
    }

    // ---- valid trees ----

    private List<Entry> tree() {
        List<Entry> out = new ArrayList<>();
        out.add(new Entry(new byte[] {'/'}, 0040000, "/ 4096 " + oct(0040000 | perms()) + " " + (2 + r.nextInt(5))
                + " 0 0 0 " + mtime() + " - - -" + xattrs(0040000)));
        int shape = r.nextInt(20);
        if (shape == 0) {
            bigDirectory(out);
        } else if (shape == 1) {
            deep(out);
        } else {
            dir(out, new byte[0], 0, 1 + r.nextInt(12));
        }
        if (out.size() > 1 && r.nextInt(2) == 0) {
            hardlinks(out);
        }
        return out;
    }

    private void dir(List<Entry> out, byte[] path, int depth, int n) {
        List<byte[]> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] name = name();
            if (names.stream().anyMatch(x -> Arrays.equals(x, name))) {
                continue;
            }
            names.add(name);
            byte[] child = concat(path, name);
            int type = depth < 4 && r.nextInt(4) == 0 ? 0040000 : TYPES[r.nextInt(TYPES.length)];
            out.add(entry(child, type));
            if (type == 0040000) {
                dir(out, child, depth + 1, r.nextInt(6));
            }
        }
    }

    private void bigDirectory(List<Entry> out) {
        byte[] d = "/big".getBytes(StandardCharsets.ISO_8859_1);
        out.add(entry(d, 0040000));
        int n = 1000 + r.nextInt(4000);
        for (int i = 0; i < n; i++) {
            out.add(entry(concat(d, ("f" + i + "-" + Integer.toHexString(r.nextInt())).getBytes(StandardCharsets.ISO_8859_1)),
                    r.nextInt(10) == 0 ? 0120000 : 0100000));
        }
    }

    private void deep(List<Entry> out) {
        byte[] p = new byte[0];
        int depth = 50 + r.nextInt(400);
        for (int i = 0; i < depth; i++) {
            p = concat(p, new byte[] {(byte) ('a' + r.nextInt(26))});
            out.add(entry(p, 0040000));
        }
        out.add(entry(concat(p, "leaf".getBytes(StandardCharsets.ISO_8859_1)), 0100000));
    }

    /** Hardlinks to earlier non-directories (some to other hardlinks), appended. */
    private void hardlinks(List<Entry> out) {
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
            Entry t = out.get(1 + r.nextInt(out.size() - 1));
            if (t.type() == 0040000) {
                continue;
            }
            byte[] p = ("/link-" + i + "-" + Integer.toHexString(r.nextInt())).getBytes(StandardCharsets.ISO_8859_1);
            String payload = pathField(t.path());
            if (r.nextBoolean()) {
                payload = payload.substring(1); // upstream and ours both take a target without its leading /
            }
            out.add(new Entry(p, t.type(), pathField(p) + " 0 @" + oct(t.type() | 0644) + " 0 0 0 0 0.0 " + payload + " - -"));
        }
    }

    private Entry entry(byte[] path, int type) {
        int mode = type | perms();
        StringBuilder l = new StringBuilder(pathField(path)).append(' ');
        String payload = "-";
        String content = "-";
        String digest = "-";
        long size = 0;
        long rdev = 0;
        switch (type) {
            case 0040000 -> size = 4096;
            case 0100000 -> {
                int k = r.nextInt(6);
                if (k == 0) {
                    size = 0; // empty
                } else if (k == 1) {
                    byte[] c = bytes(r.nextInt(r.nextBoolean() ? 64 : 5001));
                    size = c.length;
                    content = c.length == 0 ? "-" : escape(c, false);
                } else {
                    long[] sizes = {1, 4095, 4096, 4097, 1 << 20, (1L << 20) + 1, r.nextInt(1 << 30) + 1L,
                        (long) (r.nextDouble() * (1L << 42)) + 1, S53 - r.nextInt(3)};
                    size = sizes[r.nextInt(sizes.length)];
                    payload = k == 2 ? "-" : HexFormat.of().formatHex(bytes(1)) + "/" + HexFormat.of().formatHex(bytes(31));
                    if (k == 5) {
                        payload = escape(noNul(bytes(1 + r.nextInt(200))), true);
                    }
                    digest = r.nextBoolean() ? HexFormat.of().formatHex(bytes(32)) : "-";
                }
            }
            case 0120000 -> {
                byte[] t = noNul(bytes(1 + r.nextInt(r.nextInt(20) == 0 ? 4095 : 60)));
                size = t.length;
                payload = escape(t, true);
            }
            case 0020000, 0060000 -> rdev = r.nextBoolean() ? r.nextInt(1 << 20) : r.nextLong() >>> (1 + r.nextInt(63));
            default -> {
                // fifos and sockets
            }
        }
        long uid = r.nextInt(3) == 0 ? r.nextLong() >>> 32 : r.nextInt(2000);
        long gid = r.nextInt(3) == 0 ? r.nextLong() >>> 32 : r.nextInt(2000);
        l.append(size).append(' ').append(oct(mode)).append(' ').append(1 + r.nextInt(r.nextInt(10) == 0 ? 1000 : 3))
                .append(' ').append(uid).append(' ').append(gid).append(' ').append(rdev).append(' ').append(mtime())
                .append(' ').append(payload).append(' ').append(content).append(' ').append(digest).append(xattrs(type));
        return new Entry(path, type, l.toString());
    }

    private String xattrs(int type) {
        int n = r.nextInt(10) < 6 ? 0 : r.nextInt(6);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String prefix = XATTR_PREFIXES[r.nextInt(XATTR_PREFIXES.length)];
            byte[] rest = prefix.endsWith(".") ? noNul(bytes(1 + r.nextInt(r.nextInt(20) == 0 ? 239 : 20))) : new byte[0];
            byte[] name = concat(prefix.getBytes(StandardCharsets.ISO_8859_1), rest);
            byte[] value = bytes(r.nextInt(r.nextInt(30) == 0 ? 20000 : 40));
            b.append(' ').append(escape(name, false)).append('=').append(escape(value, false));
        }
        return b.toString();
    }

    private String mtime() {
        long sec = switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 1_700_000_000L + r.nextInt(1 << 20);
            case 2 -> r.nextLong() >>> 24;
            default -> r.nextInt(1 << 30);
        };
        long nsec = r.nextInt(10) == 0 ? 0 : r.nextInt(1_000_000_000);
        return sec + "." + nsec;
    }

    private int perms() {
        return r.nextInt(4) == 0 ? r.nextInt(07777 + 1) : 0644 | (r.nextBoolean() ? 0111 : 0);
    }

    /** A file name: mostly plain, sometimes every byte but NUL and '/'. */
    private byte[] name() {
        int len = r.nextInt(40) == 0 ? 255 : 1 + r.nextInt(r.nextInt(5) == 0 ? 40 : 8);
        byte[] b = new byte[len];
        boolean any = r.nextInt(3) == 0;
        for (int i = 0; i < len; i++) {
            int c = any ? 1 + r.nextInt(255) : 'a' + r.nextInt(26);
            b[i] = (byte) (c == '/' ? '_' : c);
        }
        if ((len == 1 && b[0] == '.') || (len == 2 && b[0] == '.' && b[1] == '.')) {
            b[0] = 'd';
        }
        return b;
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** NULs made '0': a C string can't carry one (the "escaped NUL" case tries them on purpose). */
    private static byte[] noNul(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == 0) {
                b[i] = '0';
            }
        }
        return b;
    }

    /** The path with some of its slashes doubled or tripled. */
    private byte[] moreSlashes(byte[] path) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte x : path) {
            b.write(x);
            if (x == '/' && r.nextInt(3) > 0) {
                b.writeBytes(r.nextBoolean() ? new byte[] {'/'} : new byte[] {'/', '/'});
            }
        }
        return b.toByteArray();
    }

    /** The path of the directory holding path (empty for the root). */
    private static byte[] parentOf(byte[] path) {
        int slash = path.length - 1;
        while (slash > 0 && path[slash] != '/') {
            slash--;
        }
        return Arrays.copyOf(path, Math.max(slash, 0));
    }

    private static byte[] concat(byte[] dir, byte[] name) {
        byte[] p = new byte[dir.length + 1 + name.length];
        System.arraycopy(dir, 0, p, 0, dir.length);
        p[dir.length] = '/';
        System.arraycopy(name, 0, p, dir.length + 1, name.length);
        return p;
    }

    private String pathField(byte[] path) {
        return escape(path, true);
    }

    /**
     * Dump escaping, with upstream's choices varied: \\x for anything not graphic (or =, in
     * xattr parts), and sometimes \\n, \\t, \\r, or \\x for plain letters too. A field that
     * is exactly "-" is escaped so it is not read as empty.
     */
    private String escape(byte[] b, boolean pathLike) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            if (c == '\\') {
                s.append("\\\\");
            } else if (c == '\n' && r.nextBoolean()) {
                s.append("\\n");
            } else if (c == '\t' && r.nextBoolean()) {
                s.append("\\t");
            } else if (c == '\r' && r.nextBoolean()) {
                s.append("\\r");
            } else if (c <= ' ' || c >= 0x7f || (c == '=' && !pathLike) || r.nextInt(50) == 0) {
                s.append(String.format(r.nextBoolean() ? "\\x%02x" : "\\x%02X", c));
            } else {
                s.append((char) c);
            }
        }
        if (s.toString().equals("-")) {
            return "\\x2d";
        }
        return s.toString();
    }

    private static String oct(int mode) {
        return Integer.toOctalString(mode);
    }
}
