package dev.composefs.core.erofs;

import static dev.composefs.core.erofs.Format.BLOCK_SIZE;
import static dev.composefs.core.erofs.Format.SLOT_SIZE;
import static dev.composefs.core.erofs.Format.roundUp;

import dev.composefs.core.dumpfile.Escaping;
import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Limits;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.TreeException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tree as a composefs EROFS image, byte for byte as upstream libcomposefs does for
 * format versions 0 and 1: the same overlay xattrs, whiteout escaping, inode order, inline
 * placement, shared-xattr selection and padding, hence the same fs-verity digest.
 */
public final class ErofsWriter {
    /** --min-version / --max-version; the written version is min, raised to 1 when whiteouts need it. */
    public record Options(int minVersion, int maxVersion) {
        public static final Options DEFAULT = new Options(0, 1);

        /**
         * As upstream's mkcomposefs takes --min-version and --max-version (null: not given): min
         * 0, max 1, except that a min given alone also caps max at 0.
         */
        public static Options of(Integer minVersion, Integer maxVersion) {
            return new Options(minVersion != null ? minVersion : 0,
                    maxVersion != null ? maxVersion : (minVersion != null ? 0 : 1));
        }

        public Options {
            if (minVersion < 0 || minVersion > Format.COMPOSEFS_VERSION_MAX || maxVersion < 0
                    || maxVersion > Format.COMPOSEFS_VERSION_MAX) {
                throw new IllegalArgumentException("composefs format versions are 0.." + Format.COMPOSEFS_VERSION_MAX);
            }
        }
    }

    /** The image and the format version it was written in. */
    public record Image(byte[] bytes, int version) {}

    static final String OVERLAY_PREFIX = "trusted.overlay.";
    static final String OVERLAY_ESCAPE_PREFIX = "trusted.overlay.overlay.";
    static final String METACOPY = "trusted.overlay.metacopy";
    static final String REDIRECT = "trusted.overlay.redirect";
    static final String OPAQUE = "trusted.overlay.opaque";
    static final String ESCAPED_WHITEOUT = "trusted.overlay.overlay.whiteout";
    static final String ESCAPED_WHITEOUTS = "trusted.overlay.overlay.whiteouts";
    static final String ESCAPED_OPAQUE = "trusted.overlay.overlay.opaque";
    static final String USER_WHITEOUT = "user.overlay.whiteout";
    static final String USER_WHITEOUTS = "user.overlay.whiteouts";
    static final String USER_OPAQUE = "user.overlay.opaque";
    private static final byte[] EMPTY = new byte[0];

    private static final String[] NO_NAMES = new String[0];

    /**
     * One inode as the image stores it, after upstream's rewrite (overlay xattrs added, whiteouts
     * escaped); the synthetic root whiteouts have no source node. There is one per entry of a
     * tree, so it holds only what every inode needs; a directory's entries are in {@link Dir}.
     * Owner and mtime are read from the tree's Meta (the root's, for the synthetic whiteouts)
     * rather than copied: 16 bytes less per inode, all of them live until the image is written.
     */
    private static final class Inode {
        final Node source;
        final Meta meta;
        int mode;
        int nlink; // unsigned
        long size;
        Dir dir;
        /** A regular file whose data is in the store: chunk indexes, no data blocks. */
        boolean external;
        boolean compact;
        // Pair ids in the XattrTable in name order, ~id where the pair is stored in the inode
        // rather than referenced: the first two in fields (a store-backed file has exactly
        // metacopy and redirect), any more in an array.
        short xattrCount; // an inode's accounted xattr bytes (at most 32767) bound it
        int xid0;
        int xid1;
        int[] xidMore;

        int nBlocks;
        int tail;
        int xattrSize;
        short nShared;
        byte chunkBits;
        int blkaddr;
        int pos; // the image is under 2 GiB

        Inode(Node source, Meta meta) {
            this.source = source;
            this.meta = meta;
        }

        int uid() {
            return meta.uid();
        }

        int gid() {
            return meta.gid();
        }

        long mtimeSec() {
            return meta.mtimeSec();
        }

        int mtimeNsec() {
            return meta.mtimeNsec();
        }

        int type() {
            return mode & Meta.S_IFMT;
        }

        /** Inline file content (null: none, or data in the store). */
        byte[] content() {
            return source instanceof RegularFile f ? f.content() : null;
        }

        String symlinkTarget() {
            return ((Symlink) source).target();
        }

        long rdev() {
            return source instanceof Device d ? d.rdev() : 0; // the root's 00..ff whiteouts: 0
        }

        int xid(int i) {
            return i == 0 ? xid0 : i == 1 ? xid1 : xidMore[i - 2];
        }

        void setXid(int i, int id) {
            switch (i) {
                case 0 -> xid0 = id;
                case 1 -> xid1 = id;
                default -> xidMore[i - 2] = id;
            }
        }

        int chunkCount() {
            return (int) ((size + (1L << chunkBits) - 1) >>> chunkBits);
        }
    }

    /**
     * A directory's entries in strcmp order, "." and ".." included (linked[i]: the entry is a
     * hardlink, ".", or "..", so kids[i] has its own place elsewhere in the tree), and its
     * xattrs while it is built, since its entries add whiteout xattrs to it.
     */
    private static final class Dir {
        final String[] names;
        final Inode[] kids;
        final boolean[] linked;
        int count;
        final XattrList xattrs;

        Dir(int capacity, XattrList xattrs) {
            this.xattrs = xattrs;
            names = new String[capacity];
            kids = new Inode[capacity];
            linked = new boolean[capacity];
        }

        /** Appends an entry; a Dir is made with room for all of them. */
        void add(String name, Inode kid, boolean link) {
            names[count] = name;
            kids[count] = kid;
            linked[count] = link;
            count++;
        }
    }

    /** A hardlink entry, resolved once every inode exists. */
    private record PendingLink(Dir dir, int entry, Node target) {}

    private final boolean whiteoutsOpaque;
    private int writtenVersion;
    private long dataStart;
    private long imageSize;
    private boolean hasWhiteout;
    private int inodeCount;
    /** The xattrs of the non-directory being built. */
    private final XattrList scratch = new XattrList();
    private final List<PendingLink> links = new ArrayList<>();
    private final ArrayList<Inode> order = new ArrayList<>();
    private final XattrTable xattrs = new XattrTable();
    private long minSec;
    private int minNsec;
    private long inodesEnd;
    private long dataBlocks;

    /** whiteoutsOpaque: whether whiteouts (which raise the version to 1 where allowed) also mark their directory opaque. */
    /** Directory levels below the root that build() is in (the root's entries: 0). */
    private int nesting = -1;

    private ErofsWriter(boolean whiteoutsOpaque) {
        this.whiteoutsOpaque = whiteoutsOpaque;
    }

    /** The image in memory. */
    public static Image write(Directory root, Options options) throws TreeException {
        ErofsWriter w = layOut(root, options);
        Window window = Window.whole(w.imageSize);
        try {
            w.emit(window);
        } catch (IOException e) {
            throw new IllegalStateException("no stream, no I/O", e);
        }
        return new Image(window.image(), w.writtenVersion);
    }

    /**
     * Writes the image to out as it is laid out, never whole in memory; returns the format
     * version written. Every problem with the tree is found before the first byte goes out.
     */
    public static int write(Directory root, Options options, OutputStream out) throws IOException {
        ErofsWriter w = layOut(root, options);
        w.emit(Window.streaming(out));
        return w.writtenVersion;
    }

    private static ErofsWriter layOut(Directory tree, Options options) throws TreeException {
        int min = options.minVersion();
        int max = Math.max(options.maxVersion(), min);
        // Version 1 changed how whiteouts are stored: a tree with any is written as 1 if allowed.
        ErofsWriter w = new ErofsWriter(max >= 1);
        Inode root = w.build(tree, null, "", "");
        w.writtenVersion = w.hasWhiteout && min < 1 && max >= 1 ? 1 : min;
        if (!w.links.isEmpty()) {
            w.resolveLinks(root);
        }
        root.dir.xattrs.put(OPAQUE, new byte[] {'y'});
        w.addRootWhiteouts(root);
        w.register(root, root.dir.xattrs);
        w.computeTree(root);
        w.computeSharedXattrs();
        w.computeInodes();
        return w;
    }

    // ---- building the inodes (lcfs_clone_root, rewrite_tree_for_erofs) ----

    // Paths are built only for directories and error messages: one string per entry was a fifth of the writer's garbage.
    private Inode build(Node n, Inode parent, String dir, String name0) throws TreeException {
        Meta m = n.meta();
        if (!Meta.isValidType(m.mode())) {
            throw new TreeException(where(join(dir, name0)) + ": invalid file type in mode 0" + Integer.toOctalString(m.mode()));
        }
        Inode w = new Inode(n, m);
        inodeCount++;
        if (n instanceof Directory d) {
            w.dir = new Dir(d.entries().size() + 2, new XattrList());
        }
        XattrList xattrs = w.dir != null ? w.dir.xattrs : scratch.clear();
        w.mode = m.mode();
        w.nlink = m.nlink();
        for (var e : m.xattrs().entries()) {
            String key = e.getKey();
            // The tree's own overlay xattrs are escaped, so overlayfs shows them instead of obeying them.
            xattrs.put(key.startsWith(OVERLAY_PREFIX) ? OVERLAY_ESCAPE_PREFIX + key.substring(OVERLAY_PREFIX.length()) : key,
                    e.getValue());
        }
        // instanceof, not a pattern switch: each switch site spins a class at its first run
        // (SwitchBootstraps), which no AOT cache keeps, and podman starts mkcomposefs per layer
        if (n instanceof Directory d) {
            entries(w, parent == null ? w : parent, d, join(dir, name0));
        } else if (n instanceof RegularFile f) {
            regular(w, xattrs, f, dir, name0);
        } else if (n instanceof Symlink s) {
            if (s.target().isEmpty() || s.target().length() >= Limits.PATH_MAX) {
                throw new TreeException(where(join(dir, name0)) + ": symlink target must be 1.." + (Limits.PATH_MAX - 1)
                        + " bytes");
            }
            w.size = s.target().length();
        } else if (n instanceof Device d && d.isWhiteout()) {
            whiteout(w, xattrs, parent.dir.xattrs);
        }
        // (fifos and sockets carry nothing beyond their metadata; hardlinks never get here)
        // Checked as upstream accounts them when they are set: the tree's own names, before the
        // escape, without the overlay xattrs the writer adds.
        String problem = Limits.xattrProblem(m.xattrs());
        if (problem != null) {
            throw new TreeException(where(join(dir, name0)) + ": " + problem);
        }
        if (parent != null) {
            register(w, xattrs); // complete now (a directory's entries are done; the root gets more)
        }
        return w;
    }

    /** A directory's entries, with "." and ".." merged in at their strcmp places. */
    private void entries(Inode w, Inode parent, Directory d, String path) throws TreeException {
        if (++nesting > Limits.MAX_DEPTH) {
            throw new TreeException(where(path) + ": directories nested deeper than " + Limits.MAX_DEPTH + " levels");
        }
        int dots = 0;
        for (var e : d.entries().entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
                    || name.indexOf('\0') >= 0) {
                throw new TreeException(where(path) + ": invalid file name '" + Escaping.printable(name) + "'");
            }
            if (name.length() > Limits.NAME_MAX) {
                throw new TreeException(where(path + "/" + name) + ": name longer than " + Limits.NAME_MAX);
            }
            dots = addDots(w, parent, dots, name);
            if (e.getValue() instanceof Hardlink h) {
                links.add(new PendingLink(w.dir, w.dir.count, h.target()));
                w.dir.add(name, null, true);
            } else {
                w.dir.add(name, build(e.getValue(), w, path, name), false);
            }
        }
        addDots(w, parent, dots, null);
        nesting--;
    }

    /** Adds "." (dots == 0) and ".." (dots <= 1) if they sort before name (null: the end); the new dots count. */
    private static int addDots(Inode w, Inode parent, int dots, String name) {
        if (dots == 0 && (name == null || name.compareTo(".") > 0)) {
            w.dir.add(".", w, true);
            dots = 1;
        }
        if (dots == 1 && (name == null || name.compareTo("..") > 0)) {
            w.dir.add("..", parent, true);
            dots = 2;
        }
        return dots;
    }

    private void regular(Inode w, XattrList xattrs, RegularFile f, String dir, String name) throws TreeException {
        w.size = f.size();
        if (f.size() < 0) {
            throw new TreeException(where(join(dir, name)) + ": negative size");
        }
        byte[] content = f.content();
        if (content != null && (content.length != f.size() || f.size() > Limits.INLINE_CONTENT_MAX)) {
            throw new TreeException(where(join(dir, name)) + ": inline content must match the size and be at most "
                    + Limits.INLINE_CONTENT_MAX + " bytes");
        }
        String payload = f.payloadIsObjectPath() ? null : f.payload(); // an object path needs no string of its own
        if (payload != null && payload.length() >= Limits.PATH_MAX) {
            throw new TreeException(where(join(dir, name)) + ": payload too long");
        }
        byte[] digest = f.digest();
        if (digest != null && digest.length != 32) {
            throw new TreeException(where(join(dir, name)) + ": fs-verity digest must be 32 bytes");
        }
        if (w.size == 0 || content != null) {
            return;
        }
        // Data in the store: overlayfs finds it by the redirect, and checks it against the digest.
        w.external = true;
        xattrs.put(METACOPY, digest != null ? XattrValue.metacopy(f) : EMPTY);
        if (f.payloadIsObjectPath()) {
            xattrs.put(REDIRECT, XattrValue.redirectToObject(f));
        } else if (payload != null && !payload.isEmpty()) {
            xattrs.put(REDIRECT, XattrValue.redirect(payload));
        }
        computeChunking(w, dir, name);
    }

    /** An overlay whiteout in the tree is stored escaped, as an empty regular file. */
    private void whiteout(Inode w, XattrList xattrs, XattrList parentXattrs) {
        hasWhiteout = true;
        w.size = 0;
        w.mode = Meta.S_IFREG | (w.mode & ~Meta.S_IFMT);
        xattrs.put(ESCAPED_WHITEOUT, EMPTY);
        xattrs.put(USER_WHITEOUT, EMPTY);
        parentXattrs.put(ESCAPED_WHITEOUTS, EMPTY);
        parentXattrs.put(USER_WHITEOUTS, EMPTY);
        if (whiteoutsOpaque) {
            parentXattrs.put(ESCAPED_OPAQUE, new byte[] {'x'});
            parentXattrs.put(USER_OPAQUE, new byte[] {'x'});
        }
    }

    /** Counts one more inode carrying each of these xattrs, w's final ones, kept as pair ids. */
    private void register(Inode w, XattrList list) {
        w.xattrCount = (short) list.count;
        if (list.count > 2) {
            w.xidMore = new int[list.count - 2];
        }
        for (int i = 0; i < list.count; i++) {
            w.setXid(i, xattrs.add(list.keys[i], list.values[i]));
        }
    }

    private void resolveLinks(Inode root) throws TreeException {
        Map<Node, Inode> bySource = new IdentityHashMap<>();
        for (PendingLink l : links) {
            bySource.put(l.target(), null);
        }
        List<Inode> dirs = new ArrayList<>(List.of(root));
        for (int d = 0; d < dirs.size(); d++) {
            Dir dir = dirs.get(d).dir;
            for (int k = 0; k < dir.count; k++) {
                Inode kid = dir.kids[k];
                if (dir.linked[k]) {
                    continue;
                }
                if (bySource.containsKey(kid.source)) {
                    bySource.put(kid.source, kid);
                }
                if (kid.dir != null) {
                    dirs.add(kid);
                }
            }
        }
        for (PendingLink l : links) {
            Inode t = bySource.get(l.target());
            if (t == null) {
                throw new TreeException("hardlink to an inode that is not in the tree");
            }
            l.dir().kids[l.entry()] = t;
        }
    }

    private static String join(String dir, String name) {
        return name.isEmpty() ? dir : dir + "/" + name;
    }

    /** A path for an error message: escaped, and cut where it is long (a deep tree's paths are kilobytes). */
    private static String where(String path) {
        return path.isEmpty() ? "/" : Escaping.printable(path);
    }

    /** Chunk size for an external file: one chunk index per chunk, all in at most one block. */
    private static void computeChunking(Inode node, String dir, String name) throws TreeException {
        int bits = 64 - Long.numberOfLeadingZeros(node.size - 1); // ilog2(size - 1) + 1
        if (node.size == 1) {
            bits = 0;
        }
        bits = Math.max(bits, Format.BLOCK_BITS);
        bits = Math.min(bits, Format.CHUNK_FORMAT_BLKBITS_MASK + Format.BLOCK_BITS);
        long chunk = 1L << bits;
        long count = (node.size - 1) / chunk + 1; // size + chunk - 1 would overflow near 2^63
        if (count > Limits.MAX_NONINLINE_CHUNKS) {
            throw new TreeException(where(join(dir, name)) + ": file too big (" + node.size + " bytes) for a composefs image");
        }
        node.chunkBits = (byte) bits;
    }

    /** The root gets a whiteout for each 00..ff it lacks (objects stay hidden in the store's layout). */
    private void addRootWhiteouts(Inode root) {
        Object selinux = root.dir.xattrs.get("security.selinux");
        Dir old = root.dir;
        String[] names = old.names;
        Inode[] kids = old.kids;
        boolean[] linked = old.linked;
        int n = old.count;
        Dir merged = new Dir(n + 256, old.xattrs);
        int j = 0;
        for (int i = 0; i <= 255; i++) {
            String hex = hexName(i); // ascending in strcmp order too
            while (j < n && names[j].compareTo(hex) < 0) {
                merged.add(names[j], kids[j], linked[j]);
                j++;
            }
            if (j < n && names[j].equals(hex)) {
                continue;
            }
            Inode w = new Inode(null, root.meta); // the root's owner and mtime
            w.mode = Meta.S_IFCHR | 0644;
            w.nlink = 1;
            XattrList wx = scratch.clear();
            if (selinux != null) {
                wx.put("security.selinux", selinux);
            }
            register(w, wx);
            merged.add(hex, w, false);
        }
        for (; j < n; j++) {
            merged.add(names[j], kids[j], linked[j]);
        }
        root.dir = merged;
    }

    private static String hexName(int i) {
        return new String(new char[] {Character.forDigit(i >> 4, 16), Character.forDigit(i & 15, 16)});
    }

    // ---- layout (lcfs_compute_tree, compute_erofs_shared_xattrs, compute_erofs_inodes) ----

    private void computeTree(Inode root) {
        order.ensureCapacity(inodeCount + 256);
        order.add(root);
        minSec = root.mtimeSec();
        minNsec = root.mtimeNsec();
        for (int i = 0; i < order.size(); i++) {
            Inode n = order.get(i);
            if (n.mtimeSec() < minSec || (n.mtimeSec() == minSec && Integer.compareUnsigned(n.mtimeNsec(), minNsec) < 0)) {
                minSec = n.mtimeSec();
                minNsec = n.mtimeNsec();
            }
            Dir dir = n.dir;
            if (dir != null) {
                int links = 2;
                for (int k = 0; k < dir.count; k++) {
                    if (!dir.linked[k]) {
                        Inode c = dir.kids[k];
                        order.add(c);
                        if (c.type() == Meta.S_IFDIR) {
                            links++;
                        }
                    }
                }
                n.nlink = links;
            }
        }
    }

    private void computeSharedXattrs() {
        xattrs.layOutShared();
        for (Inode n : order) {
            int nShared = 0;
            for (int i = 0; i < n.xattrCount; i++) {
                if (xattrs.sharedOffset(n.xid(i)) >= 0 && nShared < Format.XATTR_LONG_PREFIX) {
                    nShared++;
                } else {
                    n.setXid(i, ~n.xid(i));
                }
            }
            n.nShared = (short) nShared;
        }
    }

    /** Blocks and inline tail of a directory with these entry names, packed as long (blocks << 32 | tail). */
    private static long dirLayout(String[] names, int count) {
        int blocks = 0;
        int used = 0;
        for (int i = 0; i < count; i++) {
            int len = Format.DIRENT_SIZE + names[i].length();
            if (used + len > BLOCK_SIZE) {
                blocks++;
                used = 0;
            }
            used += len;
        }
        if (used > BLOCK_SIZE / 2) { // never inline more than half a block
            blocks++;
            used = 0;
        }
        return (long) blocks << 32 | used;
    }

    private static void computeSize(Inode node) {
        switch (node.type()) {
            case Meta.S_IFDIR -> {
                long layout = dirLayout(node.dir.names, node.dir.count);
                node.nBlocks = (int) (layout >>> 32);
                node.tail = (int) layout;
            }
            case Meta.S_IFLNK -> {
                node.nBlocks = 0;
                node.tail = node.symlinkTarget().length();
            }
            case Meta.S_IFREG -> {
                if (node.size == 0) {
                    node.nBlocks = 0;
                    node.tail = 0;
                } else if (node.content() != null) {
                    node.nBlocks = (int) (node.size / BLOCK_SIZE);
                    node.tail = (int) (node.size % BLOCK_SIZE);
                    if (node.tail > BLOCK_SIZE / 2) {
                        node.nBlocks++;
                        node.tail = 0;
                    }
                } else {
                    node.nBlocks = 0;
                    node.tail = node.chunkCount() * 4;
                }
            }
            default -> {
                node.nBlocks = 0;
                node.tail = 0;
            }
        }
    }

    private boolean fitsCompact(Inode node) {
        if (node.mtimeSec() != minSec || node.mtimeNsec() != minNsec) {
            return false;
        }
        if (Integer.toUnsignedLong(node.nlink) > 0xffff || Integer.toUnsignedLong(node.uid()) > 0xffff
                || Integer.toUnsignedLong(node.gid()) > 0xffff) {
            return false;
        }
        long size = node.type() == Meta.S_IFDIR ? (long) node.nBlocks * BLOCK_SIZE + node.tail : node.size;
        return size <= 0xffffffffL;
    }

    private int xattrInodeSize(Inode node) {
        int unshared = 0;
        for (int i = 0; i < node.xattrCount; i++) {
            int id = node.xid(i);
            if (id < 0) {
                unshared += xattrs.entrySize(~id);
            }
        }
        if (node.nShared == 0 && unshared == 0) {
            return 0;
        }
        return (int) roundUp(Format.XATTR_IBODY_HEADER_SIZE + node.nShared * 4L + unshared, 4);
    }

    /** Padding before an inode so that its inline tail does not straddle a block boundary. */
    private static long tailPadding(Inode node, long pos, int inodeSize, int xattrSize) {
        long nonTail = inodeSize + xattrSize;
        long total = nonTail + node.tail;
        if (node.type() == Meta.S_IFLNK) {
            // A symlink wants inode and target in one block; if they cannot be, the target
            // moves to a data block (padding is still judged by the inline size).
            long posBlock = pos / BLOCK_SIZE;
            long endBlock = (pos + total - 1) / BLOCK_SIZE;
            if (total / BLOCK_SIZE > 0) {
                node.nBlocks++;
                node.tail = 0;
            }
            return posBlock != endBlock ? roundUp(pos, BLOCK_SIZE) - pos : 0;
        }
        long remainder = BLOCK_SIZE - ((pos + nonTail) % BLOCK_SIZE);
        if (remainder < node.tail) {
            long extra = roundUp(remainder, SLOT_SIZE);
            remainder = BLOCK_SIZE - ((pos + nonTail + extra) % BLOCK_SIZE);
            if (node.tail <= remainder) {
                return extra;
            }
            node.nBlocks++;
            node.tail = 0;
            return roundUp(pos, BLOCK_SIZE) - pos;
        }
        return 0;
    }

    private void computeInodes() throws TreeException {
        long pos = Format.SUPER_OFFSET + Format.SUPER_SIZE;
        for (Inode n : order) {
            computeSize(n);
            n.compact = fitsCompact(n);
            int inodeSize = n.compact ? Format.INODE_COMPACT_SIZE : Format.INODE_EXTENDED_SIZE;
            n.xattrSize = xattrInodeSize(n);
            if ((n.xattrSize == 0 ? 0 : (n.xattrSize - Format.XATTR_IBODY_HEADER_SIZE) / 4 + 1) > 0xffff) {
                throw new TreeException("xattrs of one inode too large");
            }
            pos = roundUp(pos, SLOT_SIZE);
            pos += tailPadding(n, pos, inodeSize, n.xattrSize);
            n.pos = (int) pos; // a wrapped value goes nowhere: the size check below stops the image
            dataBlocks += n.nBlocks;
            pos += inodeSize + n.xattrSize + n.tail;
        }
        inodesEnd = roundUp(pos, SLOT_SIZE);
        if (order.get(0).pos / SLOT_SIZE >= 0xffff) {
            throw new TreeException("root inode number out of range");
        }
        dataStart = roundUp(inodesEnd + xattrs.sharedSize(), BLOCK_SIZE);
        imageSize = dataStart + dataBlocks * BLOCK_SIZE;
        if (imageSize > Integer.MAX_VALUE - 16) {
            throw new TreeException("image would be larger than 2 GiB");
        }
    }

    // ---- emitting ----

    private void emit(Window w) throws IOException {
        int head = w.at(0, Format.SUPER_OFFSET + Format.SUPER_SIZE);
        byte[] img = w.buf();
        new OnDisk.ComposefsHeader(xattrs.hasAcl() ? Format.COMPOSEFS_FLAGS_HAS_ACL : 0, writtenVersion).writeTo(img, head);
        new OnDisk.Superblock(Format.FEATURE_COMPAT_MTIME | Format.FEATURE_COMPAT_XATTR_FILTER,
                (int) (order.get(0).pos / SLOT_SIZE), order.size(), minSec, minNsec,
                (int) (dataStart / BLOCK_SIZE + dataBlocks), (Format.SUPER_OFFSET + Format.SUPER_SIZE) / BLOCK_SIZE,
                (int) (inodesEnd / BLOCK_SIZE)).writeTo(img, head + Format.SUPER_OFFSET);

        long end = dataStart;
        for (int i = 0; i < order.size(); i++) {
            Inode n = order.get(i);
            if (n.nBlocks > 0) {
                n.blkaddr = (int) (end / BLOCK_SIZE);
                end += (long) BLOCK_SIZE * n.nBlocks;
            }
            int inodeSize = n.compact ? Format.INODE_COMPACT_SIZE : Format.INODE_EXTENDED_SIZE;
            int p = w.at(n.pos, inodeSize + n.xattrSize + n.tail);
            writeInode(w.buf(), p, n, i);
        }
        int p = w.at(inodesEnd, (int) xattrs.sharedSize());
        for (int id : xattrs.sharedOrder()) {
            p = xattrs.writeEntry(w.buf(), p, id);
        }
        for (Inode n : order) {
            if (n.nBlocks > 0) {
                // at() first: it may replace the buffer that buf() returns.
                int d = w.at((long) n.blkaddr * BLOCK_SIZE, n.nBlocks * BLOCK_SIZE);
                writeData(w.buf(), d, n);
            }
        }
        w.finish(imageSize);
    }

    /** Writes inode n, number inodeNum (with its xattrs and inline tail), at img[p]. */
    private void writeInode(byte[] img, int p, Inode n, int inodeNum) {
        int type = n.type();
        int layout = n.tail > 0 ? Format.LAYOUT_FLAT_INLINE : Format.LAYOUT_FLAT_PLAIN;
        long size;
        int iu = 0;
        if (type == Meta.S_IFDIR) {
            size = (long) n.nBlocks * BLOCK_SIZE + n.tail;
        } else if (type == Meta.S_IFREG) {
            size = n.size;
        } else if (type == Meta.S_IFLNK) {
            size = n.nBlocks == 0 ? n.tail : n.size;
        } else {
            size = 0;
        }
        if ((type == Meta.S_IFDIR || type == Meta.S_IFREG || type == Meta.S_IFLNK) && n.nBlocks > 0) {
            iu = n.blkaddr;
        }
        if (type == Meta.S_IFCHR || type == Meta.S_IFBLK) {
            iu = (int) n.rdev();
        }
        if (n.external) {
            layout = Format.LAYOUT_CHUNK_BASED;
            iu = (iu & 0xffff0000) | (n.chunkBits - Format.BLOCK_BITS); // i_u.c.format overlays the low half
        }
        int icount = n.xattrSize == 0 ? 0 : (n.xattrSize - Format.XATTR_IBODY_HEADER_SIZE) / 4 + 1;
        int format = layout << Format.I_DATALAYOUT_BIT | (n.compact ? 0 : 1) << Format.I_VERSION_BIT;
        if (n.compact) {
            new OnDisk.CompactInode(format, icount, n.mode, n.nlink, (int) size, iu, inodeNum, n.uid(), n.gid())
                    .writeTo(img, p);
            p += OnDisk.CompactInode.SIZE;
        } else {
            new OnDisk.ExtendedInode(format, icount, n.mode, size, iu, inodeNum, n.uid(), n.gid(), n.mtimeSec(),
                    n.mtimeNsec(), n.nlink).writeTo(img, p);
            p += OnDisk.ExtendedInode.SIZE;
        }
        if (n.xattrSize > 0) {
            int filter = 0;
            for (int i = 0; i < n.xattrCount; i++) {
                int id = n.xid(i);
                filter |= xattrs.filterBit(id < 0 ? ~id : id);
            }
            int start = p;
            new OnDisk.InodeXattrHeader(~filter, n.nShared).writeTo(img, p);
            p += OnDisk.InodeXattrHeader.SIZE;
            long base = inodesEnd % BLOCK_SIZE;
            for (int i = 0; i < n.xattrCount; i++) {
                int id = n.xid(i);
                if (id >= 0) {
                    Le.put32(img, p, (int) ((base + xattrs.sharedOffset(id)) / 4));
                    p += 4;
                }
            }
            for (int i = 0; i < n.xattrCount; i++) {
                int id = n.xid(i);
                if (id < 0) {
                    p = xattrs.writeEntry(img, p, ~id);
                }
            }
            assert p - start == n.xattrSize;
        }
        if (n.tail > 0) {
            switch (type) {
                case Meta.S_IFDIR -> writeDirents(img, p, n, true);
                case Meta.S_IFLNK -> latin1(n.symlinkTarget(), img, p);
                default -> {
                    byte[] content = n.content();
                    if (content != null) {
                        System.arraycopy(content, (int) (n.size - n.tail), img, p, n.tail);
                    } else {
                        Arrays.fill(img, p, p + 4 * n.chunkCount(), (byte) 0xff); // NULL_ADDR chunk indexes
                    }
                }
            }
        }
    }

    /** The Latin-1 bytes of s (one char per byte, as the tree model carries names) into dst at off. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): a Latin-1 string's bytes, copied as they are
    private static void latin1(String s, byte[] dst, int off) {
        s.getBytes(0, s.length(), dst, off);
    }

    /** Writes the inline tail chunk (tail=true) or the full blocks (tail=false) of a directory. */
    private static void writeDirents(byte[] img, int p, Inode dir, boolean tail) {
        String[] names = dir.dir.names;
        int count = dir.dir.count;
        int used = 0;
        int first = 0;
        int written = 0;
        int out = p;
        for (int i = 0; i < count; i++) {
            int len = Format.DIRENT_SIZE + names[i].length();
            if (used + len > BLOCK_SIZE) {
                if (!tail) {
                    writeChunk(img, out, dir, first, i);
                    out += BLOCK_SIZE;
                }
                written++;
                used = 0;
                first = i;
            }
            used += len;
        }
        if (written < dir.nBlocks) {
            if (!tail) {
                writeChunk(img, out, dir, first, count);
            }
            used = 0;
            first = count;
        }
        if (tail && used > 0) {
            writeChunk(img, out, dir, first, count);
        }
    }

    private static void writeChunk(byte[] img, int p, Inode dir, int from, int to) {
        int nameoff = (to - from) * Format.DIRENT_SIZE;
        int np = p + nameoff;
        for (int i = from; i < to; i++) {
            String name = dir.dir.names[i];
            Inode target = dir.dir.kids[i];
            new OnDisk.Dirent(target.pos / SLOT_SIZE, nameoff, fileType(target.type()))
                    .writeTo(img, p + (i - from) * OnDisk.Dirent.SIZE);
            latin1(name, img, np);
            np += name.length();
            nameoff += name.length();
        }
    }

    /** A directory's i_size as the writer lays it out (dirents incl. "." and "..", and the root's 00..ff). */
    public static long directorySize(Directory dir, boolean isRoot) {
        List<String> names = new ArrayList<>(dir.entries().keySet());
        names.add(".");
        names.add("..");
        if (isRoot) {
            for (int i = 0; i <= 255; i++) {
                if (!dir.entries().containsKey(hexName(i))) {
                    names.add(hexName(i));
                }
            }
        }
        names.sort(null);
        long layout = dirLayout(names.toArray(NO_NAMES), names.size());
        return (layout >>> 32) * BLOCK_SIZE + (int) layout;
    }

    static int fileType(int type) {
        return switch (type) {
            case Meta.S_IFREG -> Format.FT_REG_FILE;
            case Meta.S_IFDIR -> Format.FT_DIR;
            case Meta.S_IFCHR -> Format.FT_CHRDEV;
            case Meta.S_IFBLK -> Format.FT_BLKDEV;
            case Meta.S_IFIFO -> Format.FT_FIFO;
            case Meta.S_IFSOCK -> Format.FT_SOCK;
            case Meta.S_IFLNK -> Format.FT_SYMLINK;
            default -> Format.FT_UNKNOWN;
        };
    }

    /** Writes the data blocks of n at img[p]. */
    private static void writeData(byte[] img, int p, Inode n) {
        switch (n.type()) {
            case Meta.S_IFDIR -> writeDirents(img, p, n, false);
            case Meta.S_IFREG -> {
                byte[] content = n.content();
                if (content == null) {
                    Arrays.fill(img, p, p + BLOCK_SIZE, (byte) 0xff); // 1024 null chunk indexes
                } else {
                    System.arraycopy(content, 0, img, p, (int) Math.min(n.size, BLOCK_SIZE));
                }
            }
            case Meta.S_IFLNK -> latin1(n.symlinkTarget(), img, p); // shorter than PATH_MAX, so within the block
            default -> {
                // devices, fifos and sockets have no data
            }
        }
    }
}
