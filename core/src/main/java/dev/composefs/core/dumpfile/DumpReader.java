package dev.composefs.core.dumpfile;

import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Fifo;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Limits;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Socket;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.Xattrs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses composefs-dump(5) text into a tree. Strict mode is what upstream's mkcomposefs does
 * with CFS_PARSE_STRICT (its tests): a final newline is required, a symlink's size must be its
 * target's length and non-devices must have rdev 0. Lenient mode accepts those.
 */
public final class DumpReader {
    private static final int FIELD_PATH = 0;
    private static final int FIELD_SIZE = 1;
    private static final int FIELD_MODE = 2;
    private static final int FIELD_NLINK = 3;
    private static final int FIELD_UID = 4;
    private static final int FIELD_GID = 5;
    private static final int FIELD_RDEV = 6;
    private static final int FIELD_MTIME = 7;
    private static final int FIELD_PAYLOAD = 8;
    private static final int FIELD_CONTENT = 9;
    private static final int FIELD_DIGEST = 10;
    private static final int FIELD_XATTRS = 11;
    /** Upstream's cap on the xattr part of a line (UINT16_MAX). */
    private static final int XATTRS_LINE_MAX = 65535;

    private final boolean strict;
    private final Map<String, Directory> dirs = new HashMap<>();
    private final Map<String, PendingLink> links = new LinkedHashMap<>();
    private final String[] err = new String[1];
    private Directory root;
    private long lineNo;

    private record PendingLink(long line, Directory parent, String name, String path, String target) {}

    private DumpReader(boolean strict) {
        this.strict = strict;
    }

    /**
     * Parses a dump as it is read, through a window that holds at least the current line: a
     * dump is larger than the image it describes, and reading it whole (plus the stream's own
     * copy) would add both to the build's peak memory.
     */
    public static Directory read(InputStream in, boolean strict) throws IOException {
        return new DumpReader(strict).run(new byte[WINDOW], 0, in);
    }

    public static Directory parse(byte[] data, boolean strict) throws DumpFormatException {
        try {
            return new DumpReader(strict).run(data, data.length, null);
        } catch (DumpFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new IllegalStateException("no stream, no I/O", e);
        }
    }

    private static final int WINDOW = 1 << 16;

    /** Parses buf[0, end), then what in (if any) gives. */
    private Directory run(byte[] buf, int end, InputStream in) throws IOException {
        int pos = 0; // start of the current line
        int[] starts = new int[16];
        int[] ends = new int[16];
        boolean eof = in == null;
        while (true) {
            // one pass over the line: the fields are what lies between single spaces
            int n = 0;
            int i = pos;
            int nul = -1;
            starts[0] = pos;
            for (; i < end; i++) {
                byte c = buf[i];
                if ((c & 0xff) > ' ') {
                    continue;
                }
                if (c == '\n') {
                    break;
                }
                if (c == 0 && nul < 0) {
                    nul = i;
                } else if (c == ' ') {
                    ends[n++] = i;
                    if (n == starts.length) {
                        starts = Arrays.copyOf(starts, n * 2);
                        ends = Arrays.copyOf(ends, n * 2);
                    }
                    starts[n] = i + 1;
                }
            }
            if (i == end && !eof) {
                // The line goes on past the window: move it to the front (growing the window
                // if it fills it), read more, and split it again.
                if (pos > 0) {
                    System.arraycopy(buf, pos, buf, 0, end - pos);
                    end -= pos;
                    pos = 0;
                } else if (end == buf.length) {
                    buf = Arrays.copyOf(buf, buf.length * 2);
                }
                lastParent = null; // its bytes have moved
                int r = in.read(buf, end, buf.length - end);
                if (r < 0) {
                    eof = true;
                } else {
                    end += r;
                }
                continue;
            }
            if (pos == end) {
                break;
            }
            lineNo++;
            ends[n++] = i;
            if (nul >= 0) {
                // an escaped \x00 is how a dump carries a NUL; a raw one is a damaged dump
                throw fail("raw NUL byte at column " + (nul - pos + 1));
            }
            if (i == pos) {
                throw fail("empty line (every line is an entry, starting with its path)");
            }
            line(buf, starts, ends, n);
            if (i == end) {
                if (strict) {
                    // checked after the line itself, so a bad last line reports its real problem
                    throw new DumpFormatException(lineNo, "missing newline at end of input");
                }
                break;
            }
            pos = i + 1;
        }
        if (root == null) {
            throw new DumpFormatException(0, lineNo == 0 ? "empty dump: no files in it"
                    : "no root directory entry \"/\" in input");
        }
        resolveLinks();
        return root;
    }

    // The current line's path field, made into a string only where needed: for directories,
    // hardlinks and messages. Most entries are found a parent by comparing raw bytes.
    private byte[] lineData;
    private int pathStart;
    private int pathEnd;
    private String pathText;
    // the parent directory of the previous plain (unescaped) path, and where its bytes are
    private Directory lastParent;
    private int lastParentStart;
    private int lastParentEnd;

    /** The current entry's path, unescaped, with runs of '/' as one: upstream walks past repeated slashes. */
    private String path() throws DumpFormatException {
        if (pathText == null) {
            pathText = collapseSlashes(text(lineData, pathStart, pathEnd, "path"));
        }
        return pathText;
    }

    static String collapseSlashes(String path) {
        if (!path.contains("//")) {
            return path;
        }
        StringBuilder sb = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c != '/' || sb.isEmpty() || sb.charAt(sb.length() - 1) != '/') {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** Whether b[from, to) holds "//". */
    private static boolean hasDoubleSlash(byte[] b, int from, int to) {
        for (int i = from + 1; i < to; i++) {
            if (b[i] == '/' && b[i - 1] == '/') {
                return true;
            }
        }
        return false;
    }

    /** One entry: where it goes, then a pending hardlink or a node with its metadata and xattrs. */
    private void line(byte[] b, int[] s, int[] e, int n) throws DumpFormatException {
        lineData = b;
        pathStart = s[FIELD_PATH];
        pathEnd = e[FIELD_PATH];
        pathText = null;
        // its bytes are its text: no escapes, no repeated slashes
        boolean plain = indexOf(b, (byte) '\\', pathStart, pathEnd) < 0 && !hasDoubleSlash(b, pathStart, pathEnd);
        if (plain ? pathEnd == pathStart || b[pathStart] != '/' : !path().startsWith("/")) {
            throw fail("path '" + printable(path()) + "' is not absolute");
        }
        if (n <= FIELD_MODE) {
            throw tooFewFields(n);
        }
        boolean isLink = e[FIELD_MODE] > s[FIELD_MODE] && b[s[FIELD_MODE]] == '@';
        int mode = mode(b, s[FIELD_MODE] + (isLink ? 1 : 0), e[FIELD_MODE]);
        // only "/" itself: "//" is, for upstream too, an empty name in the root
        boolean isRoot = plain ? pathEnd - pathStart == 1 : text(b, pathStart, pathEnd, "path").equals("/");
        Directory parent = isRoot ? null : parentOf(b, plain);
        String name = isRoot ? "" : lastName;
        if (isLink) {
            hardlink(parent, name, mode, n > FIELD_PAYLOAD ? optional(b, s[FIELD_PAYLOAD], e[FIELD_PAYLOAD], "payload") : null);
            return;
        }
        if (n <= FIELD_MTIME) { // (a hardlink line needs only path, mode and target)
            throw tooFewFields(n);
        }
        Node node = node(b, s, e, n, mode);
        if (parent == null) {
            if (root != null) {
                throw fail("duplicate root directory entry");
            }
            if (!(node instanceof Directory d)) {
                throw fail("the root \"/\" must be a directory");
            }
            root = d;
            dirs.put("/", d);
            return;
        }
        if (parent.entries().putIfAbsent(name, node) != null || (!links.isEmpty() && links.containsKey(path()))) {
            throw fail("duplicate entry '" + printable(path()) + "'");
        }
        if (node instanceof Directory d) {
            dirs.put(path(), d);
        }
    }

    private DumpFormatException tooFewFields(int n) {
        return fail("expected at least 8 fields (path size mode nlink uid gid rdev mtime), got " + n);
    }

    /** The mode field: octal, 32 bits, a file type a composefs image can hold. */
    private int mode(byte[] b, int from, int to) throws DumpFormatException {
        long mode = number(b, from, to, 8, "mode");
        if (mode > 0xffffffffL) {
            throw fail("mode out of range");
        }
        if (!Meta.isValidType((int) mode)) {
            throw fail("mode 0" + Long.toOctalString(mode) + " of '" + printable(path()) + "' has no valid file type");
        }
        return (int) mode;
    }

    // the current entry's own name, set by parentOf
    private String lastName;

    /** The directory the current (non-root) entry goes in; its name in lastName. */
    private Directory parentOf(byte[] b, boolean plain) throws DumpFormatException {
        Directory parent;
        if (plain) {
            int slash = pathEnd - 1;
            while (b[slash] != '/') {
                slash--;
            }
            lastName = new String(b, slash + 1, pathEnd - slash - 1, StandardCharsets.ISO_8859_1);
            checkName(lastName);
            parent = plainParent(b, pathStart, slash);
        } else {
            String path = path();
            int slash = path.lastIndexOf('/');
            lastName = path.substring(slash + 1);
            checkName(lastName);
            parent = parent(slash == 0 ? "/" : path.substring(0, slash));
        }
        return parent;
    }

    /**
     * A hardlink line: as upstream, only its path, its mode (which must not be a directory's)
     * and its payload, the target, are read; the target's metadata is the link's.
     */
    private void hardlink(Directory parent, String name, int mode, String target) throws DumpFormatException {
        if (parent == null) {
            throw fail("the root directory cannot be a hardlink");
        }
        if ((mode & Meta.S_IFMT) == Meta.S_IFDIR) {
            throw fail("hardlink '" + printable(path()) + "' has a directory's mode: directories can't be hardlinked");
        }
        if (target == null || target.isEmpty()) {
            throw fail("hardlink '" + printable(path()) + "' without a target path");
        }
        if (parent.entries().containsKey(name) || links.containsKey(path())) {
            throw fail("duplicate entry '" + printable(path()) + "'");
        }
        links.put(path(), new PendingLink(lineNo, parent, name, path(), target));
    }

    /** The node of a line that is not a hardlink, from its fixed fields and its xattrs. */
    private Node node(byte[] b, int[] s, int[] e, int n, int mode) throws DumpFormatException {
        long size = unsigned64(b, s[FIELD_SIZE], e[FIELD_SIZE], "size");
        long nlink = u32(b, s[FIELD_NLINK], e[FIELD_NLINK], "nlink");
        long uid = u32(b, s[FIELD_UID], e[FIELD_UID], "uid");
        long gid = u32(b, s[FIELD_GID], e[FIELD_GID], "gid");
        long rdev = unsigned64(b, s[FIELD_RDEV], e[FIELD_RDEV], "rdev");
        int dot = indexOf(b, (byte) '.', s[FIELD_MTIME], e[FIELD_MTIME]);
        if (dot < 0) {
            throw fail("mtime must be SECONDS.NANOSECONDS");
        }
        long sec = signed(b, s[FIELD_MTIME], dot, "mtime seconds");
        long nsec = u32(b, dot + 1, e[FIELD_MTIME], "mtime nanoseconds");
        String payload = n > FIELD_PAYLOAD ? optional(b, s[FIELD_PAYLOAD], e[FIELD_PAYLOAD], "payload") : null;
        // An empty or missing content field is content of 0 bytes, as upstream reads it: the size must be 0.
        String content = n > FIELD_CONTENT ? optional(b, s[FIELD_CONTENT], e[FIELD_CONTENT], "content") : "";
        if (content != null && content.length() != size) {
            throw fail("inline content of '" + printable(path()) + "' is " + content.length()
                    + " bytes but its size is " + Long.toUnsignedString(size));
        }
        boolean noDigestField = n <= FIELD_DIGEST || e[FIELD_DIGEST] == s[FIELD_DIGEST];
        byte[] digest = noDigestField ? null : digest(b, s[FIELD_DIGEST], e[FIELD_DIGEST]);
        Meta meta = new Meta(mode, (int) uid, (int) gid, sec, (int) nsec, (int) nlink, xattrs(b, s, e, n));
        int type = mode & Meta.S_IFMT;
        if (strict && rdev != 0 && type != Meta.S_IFCHR && type != Meta.S_IFBLK) {
            throw fail("rdev " + rdev + " on '" + printable(path()) + "', which is not a device");
        }
        return switch (type) {
            case Meta.S_IFDIR -> new Directory(meta);
            case Meta.S_IFREG -> regular(meta, size, payload, content, digest, noDigestField);
            case Meta.S_IFLNK -> symlink(meta, size, payload, content);
            case Meta.S_IFCHR, Meta.S_IFBLK -> new Device(meta, rdev);
            case Meta.S_IFIFO -> new Fifo(meta);
            default -> new Socket(meta);
        };
    }

    /**
     * The xattr fields; a name set twice keeps its last value. Checked as upstream's
     * lcfs_node_set_xattr checks each one as it is set, after upstream's cap on the length of
     * this part of the line (its duplicate check makes longer lines quadratic).
     */
    private Xattrs xattrs(byte[] b, int[] s, int[] e, int n) throws DumpFormatException {
        Xattrs xattrs = new Xattrs();
        if (n <= FIELD_XATTRS) {
            return xattrs;
        }
        if (e[n - 1] - s[FIELD_XATTRS] > XATTRS_LINE_MAX) {
            throw fail(printable(path()) + ": too many xattrs (more than " + XATTRS_LINE_MAX + " bytes of them)");
        }
        long total = 0;
        for (int i = FIELD_XATTRS; i < n; i++) {
            if (e[i] == s[i]) {
                continue; // trailing or doubled separator
            }
            int eq = indexOf(b, (byte) '=', s[i], e[i]);
            if (eq < 0) {
                throw fail("xattr '" + printable(text(b, s[i], e[i], "xattr")) + "' has no '='");
            }
            String key = text(b, s[i], eq, "xattr name");
            if (hasNul(key)) {
                throw fail("xattr name '" + printable(key) + "' of '" + printable(path()) + "' contains a NUL byte");
            }
            byte[] value = text(b, eq + 1, e[i], "xattr value").getBytes(StandardCharsets.ISO_8859_1);
            byte[] old = xattrs.remove(key);
            if (old != null) {
                total = Limits.xattrReleased(total, key, old.length, xattrs.isEmpty());
            }
            String problem = Limits.xattrProblem(key, value.length, total);
            if (problem != null) {
                throw fail(printable(path()) + ": " + problem);
            }
            total = Limits.xattrAccounted(total, key, value.length);
            xattrs.put(key, value);
        }
        return xattrs;
    }

    /** The directory at b[from, to) (a path without escapes; empty: the root), the last one found if it is that again. */
    private Directory plainParent(byte[] b, int from, int to) throws DumpFormatException {
        if (lastParent != null && Arrays.equals(b, from, to, b, lastParentStart, lastParentEnd)) {
            return lastParent;
        }
        Directory d = parent(to == from ? "/" : new String(b, from, to - from, StandardCharsets.ISO_8859_1));
        lastParent = d;
        lastParentStart = from;
        lastParentEnd = to;
        return d;
    }

    private Directory parent(String parentPath) throws DumpFormatException {
        if (root == null) {
            throw fail("entry '" + printable(path()) + "' before the root directory \"/\"");
        }
        Directory parent = dirs.get(parentPath);
        if (parent == null) {
            throw fail("parent of '" + printable(path()) + "' does not exist or is not a directory");
        }
        return parent;
    }

    private RegularFile regular(Meta meta, long size, String payload, String content, byte[] digest,
            boolean noDigestField) throws DumpFormatException {
        if (size < 0) {
            throw fail("size " + Long.toUnsignedString(size) + " of '" + printable(path()) + "' is too big for a composefs image");
        }
        byte[] bytes = null;
        if (content != null && !content.isEmpty()) {
            if (size > Limits.INLINE_CONTENT_MAX) {
                throw fail("inline content of '" + printable(path()) + "' is larger than "
                        + Limits.INLINE_CONTENT_MAX + " bytes");
            }
            bytes = content.getBytes(StandardCharsets.ISO_8859_1);
        }
        if (payload != null && payload.length() >= Limits.PATH_MAX) {
            throw fail("payload of '" + printable(path()) + "' is " + payload.length() + " bytes (max "
                    + (Limits.PATH_MAX - 1) + ")");
        }
        if (hasNul(payload)) {
            throw fail("payload of '" + printable(path()) + "' contains a NUL byte");
        }
        if (noDigestField && bytes == null && size > 0) {
            // upstream takes an empty field for a digest and writes whatever its buffer held
            throw fail("digest field of '" + printable(path()) + "' is empty or missing (write - for none)");
        }
        return new RegularFile(meta, size, bytes, payload, digest);
    }

    private Symlink symlink(Meta meta, long size, String target, String content) throws DumpFormatException {
        if (target == null || target.isEmpty()) {
            throw fail("symlink '" + printable(path()) + "' has no target");
        }
        if (target.length() >= Limits.PATH_MAX) {
            throw fail("target of symlink '" + printable(path()) + "' is " + target.length() + " bytes (max "
                    + (Limits.PATH_MAX - 1) + ")");
        }
        if (hasNul(target)) {
            throw fail("target of symlink '" + printable(path()) + "' contains a NUL byte");
        }
        if (strict && content != null && !content.isEmpty()) {
            throw fail("symlink '" + printable(path()) + "' has content: a symlink's target is its payload");
        }
        if (strict && size != target.length()) {
            throw fail("size " + size + " of symlink '" + printable(path()) + "' differs from its target's length "
                    + target.length());
        }
        return new Symlink(meta, target);
    }

    /**
     * A NUL can be written in a dump (\\x00) but not carried by a C string: names, symlink
     * targets, payloads and xattr names with one would be cut short by the kernel or upstream.
     */
    private static boolean hasNul(String s) {
        return s != null && s.indexOf('\0') >= 0;
    }

    private void checkName(String name) throws DumpFormatException {
        if (hasNul(name)) {
            throw fail("file name in '" + printable(path()) + "' contains a NUL byte");
        }
        if (name.isEmpty()) {
            throw fail("empty file name in '" + printable(path()) + "' (// or trailing /)");
        }
        if (name.equals(".") || name.equals("..")) {
            throw fail("'" + name + "' is not allowed as a file name ('" + printable(path()) + "')");
        }
        if (name.length() > Limits.NAME_MAX) {
            throw fail("file name longer than " + Limits.NAME_MAX + " bytes in '" + printable(path()) + "'");
        }
    }

    /** Each link resolved once: a chain of n links costs n steps, not n squared. */
    private void resolveLinks() throws DumpFormatException {
        Map<String, Node> resolved = new HashMap<>();
        for (PendingLink l : links.values()) {
            Node target = resolve(l, resolved);
            l.parent().entries().put(l.name(), new Hardlink(target));
        }
    }

    /** Follows the chain from start to a node that is not a pending link, remembering the answer for every link on it. */
    private Node resolve(PendingLink start, Map<String, Node> resolved) throws DumpFormatException {
        List<PendingLink> chain = new ArrayList<>();
        Set<String> onChain = new HashSet<>();
        Node target;
        for (PendingLink l = start; ; ) {
            Node known = resolved.get(l.path());
            if (known != null) {
                target = known;
                break;
            }
            if (!onChain.add(l.path())) {
                throw new DumpFormatException(start.line(), "hardlink loop at '" + printable(l.path()) + "'");
            }
            chain.add(l);
            // as upstream's lookup: repeated and trailing slashes walk nowhere
            String t = collapseSlashes(l.target().startsWith("/") ? l.target() : "/" + l.target());
            if (t.length() > 1 && t.endsWith("/")) {
                t = t.substring(0, t.length() - 1);
            }
            if (t.equals(l.path())) {
                throw new DumpFormatException(l.line(), "hardlink '" + printable(l.path()) + "' points to itself");
            }
            PendingLink next = links.get(t);
            if (next != null) {
                l = next;
                continue;
            }
            Node found = lookup(t);
            if (found == null) {
                throw new DumpFormatException(l.line(), "target '" + printable(t) + "' of hardlink '"
                        + printable(l.path()) + "' does not exist");
            }
            if (found instanceof Directory) {
                throw new DumpFormatException(l.line(), "hardlink '" + printable(l.path()) + "' points to directory '"
                        + printable(t) + "'");
            }
            target = found instanceof Hardlink h ? h.target() : found;
            break;
        }
        for (PendingLink c : chain) {
            resolved.put(c.path(), target);
        }
        return target;
    }

    private Node lookup(String path) {
        Node cur = root;
        for (String part : path.substring(1).split("/", -1)) {
            if (part.isEmpty()) {
                continue;
            }
            if (!(cur instanceof Directory d)) {
                return null;
            }
            cur = d.entries().get(part);
            if (cur == null) {
                return null;
            }
        }
        return cur;
    }

    private DumpFormatException fail(String message) {
        return new DumpFormatException(lineNo, message);
    }

    private String text(byte[] b, int from, int to, String what) throws DumpFormatException {
        if (indexOf(b, (byte) '\\', from, to) < 0) {
            return new String(b, from, to - from, StandardCharsets.ISO_8859_1);
        }
        String s = Escaping.unescape(b, from, to, err);
        if (s == null) {
            throw fail(what + ": " + err[0]);
        }
        return s;
    }

    private String optional(byte[] b, int from, int to, String what) throws DumpFormatException {
        if (to == from || (to - from == 1 && b[from] == '-')) {
            return null;
        }
        return text(b, from, to, what);
    }

    private byte[] digest(byte[] b, int from, int to) throws DumpFormatException {
        if (to == from || (to - from == 1 && b[from] == '-')) {
            return null;
        }
        if (to - from != 64) {
            throw fail("digest must be 64 hex digits, got '" + new String(b, from, to - from,
                    StandardCharsets.ISO_8859_1) + "'");
        }
        byte[] d = new byte[32];
        for (int i = 0; i < 32; i++) {
            int hi = Character.digit(b[from + 2 * i], 16);
            int lo = Character.digit(b[from + 2 * i + 1], 16);
            if (hi < 0 || lo < 0) {
                throw fail("digest is not hexadecimal");
            }
            d[i] = (byte) (hi << 4 | lo);
        }
        return d;
    }

    private long u32(byte[] b, int from, int to, String what) throws DumpFormatException {
        long v = number(b, from, to, 10, what);
        if (v > 0xffffffffL) {
            throw fail(what + " " + v + " out of range");
        }
        return v;
    }

    /** A decimal of up to 64 bits, as strtoull reads it: values of 2^63 and above come back negative. */
    private long unsigned64(byte[] b, int from, int to, String what) throws DumpFormatException {
        if (to - from < 19) {
            return number(b, from, to, 10, what);
        }
        String digits = new String(b, from, to - from, StandardCharsets.ISO_8859_1);
        if (digits.charAt(0) == '+' || digits.charAt(0) == '-') {
            throw fail("invalid " + what + " '" + digits + "'");
        }
        try {
            return Long.parseUnsignedLong(digits);
        } catch (NumberFormatException e) {
            throw fail(what + " '" + digits + "' out of range");
        }
    }

    private long signed(byte[] b, int from, int to, String what) throws DumpFormatException {
        if (to > from && b[from] == '-') {
            return -number(b, from + 1, to, 10, what);
        }
        return number(b, from, to, 10, what);
    }

    private long number(byte[] b, int from, int to, int radix, String what) throws DumpFormatException {
        if (to <= from) {
            throw fail("empty " + what);
        }
        long v = 0;
        for (int i = from; i < to; i++) {
            int d = b[i] - '0'; // radix is 8 or 10: ASCII digits only
            if (d < 0 || d >= radix) {
                throw fail("invalid " + what + " '" + new String(b, from, to - from, StandardCharsets.ISO_8859_1) + "'");
            }
            long next = v * radix + d;
            if (next < v || v > Long.MAX_VALUE / radix) {
                throw fail(what + " out of range");
            }
            v = next;
        }
        return v;
    }

    private static int indexOf(byte[] b, byte c, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] == c) {
                return i;
            }
        }
        return -1;
    }

    /** A path for an error message: escaped like a dump, and shortened. */
    static String printable(String s) {
        return Escaping.printable(s);
    }
}
