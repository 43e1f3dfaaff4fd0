package dev.composefs.core.erofs;

import static dev.composefs.core.erofs.Format.BLOCK_SIZE;
import static dev.composefs.core.erofs.Format.SLOT_SIZE;
import static dev.composefs.core.erofs.Format.roundUp;

import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Limits;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.tree.TreeException;
import dev.composefs.core.tree.Xattrs;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a tree as a composefs EROFS image, byte for byte as upstream libcomposefs does for
 * format versions 0 and 1: the same overlay xattrs, whiteout escaping, inode order, inline
 * placement, shared-xattr selection and padding, hence the same fs-verity digest.
 */
public final class ErofsWriter {
    /** --min-version / --max-version; the written version is min, raised to 1 when whiteouts need it. */
    public record Options(int minVersion, int maxVersion) {
        public static final Options DEFAULT = new Options(0, 1);

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

    /** The writer's own mutable copy of one inode (or one hardlink entry, when linkTo is set). */
    private static final class W {
        int mode;
        int uid;
        int gid;
        long mtimeSec;
        int mtimeNsec;
        long nlink;
        long size;
        long rdev;
        byte[] content;
        String payload;
        byte[] digest;
        Xattrs xattrs;
        TreeMap<String, W> children;
        W linkTo;
        Node linkTarget;

        int inodeNum;
        int nBlocks;
        int tail;
        boolean compact;
        int xattrSize;
        long pos;
        long blkaddr;
        String[] xkeys;
        byte[][] xvals;
        long[] xshared;
        int nShared;
        int chunkBits;
        int chunkCount;

        int type() {
            return mode & Meta.S_IFMT;
        }

        W target() {
            return linkTo != null ? linkTo : this;
        }
    }

    private final int version;
    private final List<W> order = new ArrayList<>();
    private long minSec;
    private int minNsec;
    private boolean hasAcl;
    private long inodesEnd;
    private long sharedSize;
    private long dataBlocks;
    private final Map<String, Integer> filterBits = new HashMap<>();
    private java.util.Set<Node> linkTargets;
    private final List<String> sharedKeys = new ArrayList<>();
    private final List<byte[]> sharedVals = new ArrayList<>();

    private ErofsWriter(int version) {
        this.version = version;
    }

    public static Image write(Directory root, Options options) throws TreeException {
        int version = options.minVersion();
        int max = Math.max(options.maxVersion(), version);
        Scan scan = scan(root);
        if (version < 1 && max >= 1 && scan.hasWhiteout()) {
            version = 1; // version 1 changed how whiteouts are stored
        }
        ErofsWriter w = new ErofsWriter(version);
        w.linkTargets = scan.linkTargets();
        return new Image(w.run(root), version);
    }

    /** What the writer must know before copying: whiteouts (format version) and hardlink targets. */
    private record Scan(boolean hasWhiteout, java.util.Set<Node> linkTargets) {}

    private static Scan scan(Directory root) {
        boolean whiteout = false;
        java.util.Set<Node> targets = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        List<Node> queue = new ArrayList<>();
        queue.add(root);
        for (int i = 0; i < queue.size(); i++) {
            Node n = queue.get(i);
            if (n instanceof Device d && d.isWhiteout()) {
                whiteout = true;
            }
            if (n instanceof Directory d) {
                for (Node c : d.entries().values()) {
                    if (c instanceof Hardlink h) {
                        targets.add(h.target()); // only these need to be found again after copying
                    } else {
                        queue.add(c);
                    }
                }
            }
        }
        return new Scan(whiteout, targets);
    }

    private byte[] run(Directory root) throws TreeException {
        Map<Node, W> copies = new IdentityHashMap<>();
        List<W> links = new ArrayList<>();
        W wroot = copy(root, "", "", copies, links);
        for (W l : links) {
            W t = copies.get(l.linkTarget);
            if (t == null) {
                throw new TreeException("hardlink to an inode that is not in the tree");
            }
            l.linkTo = t;
        }
        rewrite(wroot, wroot, "", "");
        wroot.xattrs.put(OPAQUE, new byte[] {'y'});
        addRootWhiteouts(wroot);
        computeTree(wroot);
        computeSharedXattrs();
        computeInodes();
        return emit();
    }

    // ---- cloning and rewriting (lcfs_clone_root, rewrite_tree_for_erofs) ----

    // Paths are built only for directories and error messages: one string per entry was a fifth of the writer's garbage.
    private W copy(Node n, String dir, String name0, Map<Node, W> copies, List<W> links) throws TreeException {
        W w = new W();
        if (n instanceof Hardlink h) {
            w.linkTarget = h.target();
            links.add(w);
            return w;
        }
        Meta m = n.meta();
        w.mode = m.mode();
        w.uid = m.uid();
        w.gid = m.gid();
        w.mtimeSec = m.mtimeSec();
        w.mtimeNsec = m.mtimeNsec();
        w.nlink = Integer.toUnsignedLong(m.nlink());
        w.xattrs = m.xattrs().copy();
        if (!Meta.isValidType(m.mode())) {
            throw new TreeException(where(join(dir, name0)) + ": invalid file type in mode 0" + Integer.toOctalString(m.mode()));
        }
        switch (n) {
            case Directory d -> {
                w.children = new TreeMap<>();
                String path = join(dir, name0);
                for (var e : d.entries().entrySet()) {
                    String name = e.getKey();
                    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
                            || name.indexOf('\0') >= 0) {
                        throw new TreeException(where(path) + ": invalid file name '" + name + "'");
                    }
                    if (name.length() > Limits.NAME_MAX) {
                        throw new TreeException(where(path + "/" + name) + ": name longer than " + Limits.NAME_MAX);
                    }
                    w.children.put(name, copy(e.getValue(), path, name, copies, links));
                }
            }
            case RegularFile f -> {
                w.size = f.size();
                w.content = f.content();
                w.payload = f.payload();
                w.digest = f.digest();
                if (f.size() < 0) {
                    throw new TreeException(where(join(dir, name0)) + ": negative size");
                }
                if (w.content != null && (w.content.length != f.size() || f.size() > Limits.INLINE_CONTENT_MAX)) {
                    throw new TreeException(where(join(dir, name0)) + ": inline content must match the size and be at most "
                            + Limits.INLINE_CONTENT_MAX + " bytes");
                }
                if (w.payload != null && w.payload.length() >= Limits.PATH_MAX) {
                    throw new TreeException(where(join(dir, name0)) + ": payload too long");
                }
                if (w.digest != null && w.digest.length != 32) {
                    throw new TreeException(where(join(dir, name0)) + ": fs-verity digest must be 32 bytes");
                }
            }
            case Symlink s -> {
                if (s.target().isEmpty() || s.target().length() >= Limits.PATH_MAX) {
                    throw new TreeException(where(join(dir, name0)) + ": symlink target must be 1.." + (Limits.PATH_MAX - 1)
                            + " bytes");
                }
                w.payload = s.target();
                w.size = s.target().length();
            }
            case Device d -> w.rdev = d.rdev();
            default -> {
                // fifos and sockets carry nothing beyond their metadata
            }
        }
        if (linkTargets.contains(n)) {
            copies.put(n, w);
        }
        return w;
    }

    private static String join(String dir, String name) {
        return name.isEmpty() ? dir : dir + "/" + name;
    }

    private static String where(String path) {
        return path.isEmpty() ? "/" : path;
    }

    private void rewrite(W node, W parent, String dir, String name) throws TreeException {
        escapeOverlayXattrs(node);
        int type = node.type();
        if (type == Meta.S_IFREG && node.size > 0 && node.content == null) {
            byte[] meta = EMPTY;
            if (node.digest != null) {
                meta = new byte[4 + 32];
                meta[1] = (byte) meta.length;
                meta[3] = 1; // FS_VERITY_HASH_ALG_SHA256
                System.arraycopy(node.digest, 0, meta, 4, 32);
            }
            node.xattrs.put(METACOPY, meta);
            if (node.payload != null && !node.payload.isEmpty()) {
                byte[] redirect = new byte[node.payload.length() + 1];
                redirect[0] = '/';
                latin1(node.payload, redirect, 1);
                node.xattrs.put(REDIRECT, redirect);
            }
            computeChunking(node, dir, name);
        }
        if (type == Meta.S_IFCHR && node.rdev == 0) {
            // An overlay whiteout in the tree is stored escaped, as a regular file.
            node.size = 0;
            node.mode = Meta.S_IFREG | (node.mode & ~Meta.S_IFMT);
            node.xattrs.put(ESCAPED_WHITEOUT, EMPTY);
            node.xattrs.put(USER_WHITEOUT, EMPTY);
            parent.xattrs.put(ESCAPED_WHITEOUTS, EMPTY);
            parent.xattrs.put(USER_WHITEOUTS, EMPTY);
            if (version >= 1) {
                parent.xattrs.put(ESCAPED_OPAQUE, new byte[] {'x'});
                parent.xattrs.put(USER_OPAQUE, new byte[] {'x'});
            }
        }
        if (type == Meta.S_IFDIR) {
            W self = new W();
            self.linkTo = node;
            W up = new W();
            up.linkTo = parent;
            node.children.put(".", self);
            node.children.put("..", up);
            String path = join(dir, name);
            for (var e : node.children.entrySet()) {
                W child = e.getValue();
                if (child.linkTo == null) {
                    rewrite(child, node, path, e.getKey());
                }
            }
        }
        String problem = Limits.xattrProblem(node.xattrs);
        if (problem != null) {
            throw new TreeException(where(join(dir, name)) + ": " + problem);
        }
    }

    private static void escapeOverlayXattrs(W node) {
        List<String> keys = null;
        for (var e : node.xattrs.entries()) {
            if (e.getKey().startsWith(OVERLAY_PREFIX)) {
                if (keys == null) {
                    keys = new ArrayList<>();
                }
                keys.add(e.getKey());
            }
        }
        if (keys == null) {
            return;
        }
        Map<String, byte[]> renamed = new HashMap<>();
        for (String k : keys) {
            renamed.put(OVERLAY_ESCAPE_PREFIX + k.substring(OVERLAY_PREFIX.length()), node.xattrs.remove(k));
        }
        renamed.forEach(node.xattrs::put);
    }

    /** Chunk size for an external file: one chunk index per chunk, all in at most one block. */
    private static void computeChunking(W node, String dir, String name) throws TreeException {
        int bits = 64 - Long.numberOfLeadingZeros(node.size - 1); // ilog2(size - 1) + 1
        if (node.size == 1) {
            bits = 0;
        }
        bits = Math.max(bits, Format.BLOCK_BITS);
        bits = Math.min(bits, Format.CHUNK_FORMAT_BLKBITS_MASK + Format.BLOCK_BITS);
        long chunk = 1L << bits;
        long count = (node.size + chunk - 1) / chunk;
        if (count > Limits.MAX_NONINLINE_CHUNKS) {
            throw new TreeException(where(join(dir, name)) + ": file too big (" + node.size + " bytes) for a composefs image");
        }
        node.chunkBits = bits;
        node.chunkCount = (int) count;
    }

    private static void addRootWhiteouts(W root) {
        byte[] selinux = root.xattrs.get("security.selinux");
        for (int i = 0; i <= 255; i++) {
            String name = String.format("%02x", i);
            if (root.children.containsKey(name)) {
                continue;
            }
            W w = new W();
            w.mode = Meta.S_IFCHR | 0644;
            w.nlink = 1;
            w.uid = root.uid;
            w.gid = root.gid;
            w.mtimeSec = root.mtimeSec;
            w.mtimeNsec = root.mtimeNsec;
            w.xattrs = new Xattrs();
            if (selinux != null) {
                w.xattrs.put("security.selinux", selinux);
            }
            root.children.put(name, w);
        }
    }

    // ---- layout (lcfs_compute_tree, compute_erofs_shared_xattrs, compute_erofs_inodes) ----

    private void computeTree(W root) {
        order.add(root);
        minSec = root.mtimeSec;
        minNsec = root.mtimeNsec;
        for (int i = 0; i < order.size(); i++) {
            W n = order.get(i);
            if (n.type() == Meta.S_IFDIR) {
                long links = 2;
                for (W c : n.children.values()) {
                    if (c.linkTo == null && c.type() == Meta.S_IFDIR) {
                        links++;
                    }
                }
                n.nlink = links;
            }
            if (n.mtimeSec < minSec || (n.mtimeSec == minSec && Integer.compareUnsigned(n.mtimeNsec, minNsec) < 0)) {
                minSec = n.mtimeSec;
                minNsec = n.mtimeNsec;
            }
            n.inodeNum = i;
            if (n.xattrs.get("system.posix_acl_access") != null || n.xattrs.get("system.posix_acl_default") != null) {
                hasAcl = true;
            }
            if (n.children != null) {
                for (W c : n.children.values()) {
                    if (c.linkTo == null) {
                        order.add(c);
                    }
                }
            }
        }
    }

    /** One distinct (key, value) pair and how many inodes carry it. */
    private static final class XEntry {
        final String key;
        final byte[] value;
        final int hash;
        int count;
        long offset = -1;

        XEntry(String key, byte[] value) {
            this.key = key;
            this.value = value;
            this.hash = key.hashCode() * 31 + Arrays.hashCode(value);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof XEntry x && x.hash == hash && x.key.equals(key) && Arrays.equals(x.value, value);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private void computeSharedXattrs() {
        Map<XEntry, XEntry> distinct = new HashMap<>();
        List<XEntry[]> perNode = new ArrayList<>(order.size());
        for (W n : order) {
            int k = n.xattrs.size();
            n.xkeys = new String[k];
            n.xvals = new byte[k][];
            n.xshared = new long[k];
            XEntry[] entries = new XEntry[k];
            int i = 0;
            for (var e : n.xattrs.entries()) {
                n.xkeys[i] = e.getKey();
                n.xvals[i] = e.getValue();
                XEntry x = distinct.computeIfAbsent(new XEntry(e.getKey(), e.getValue()), v -> v);
                x.count++;
                entries[i++] = x;
            }
            perNode.add(entries);
        }
        List<XEntry> shared = new ArrayList<>();
        for (XEntry x : distinct.values()) {
            if (x.count > 1) {
                shared.add(x);
            }
        }
        // Upstream's canonical order: descending by key, then value length, then value bytes.
        shared.sort((a, b) -> {
            int r = b.key.compareTo(a.key);
            if (r != 0) {
                return r;
            }
            if (a.value.length != b.value.length) {
                return b.value.length - a.value.length;
            }
            return Arrays.compareUnsigned(b.value, a.value);
        });
        long off = 0;
        for (XEntry x : shared) {
            x.offset = off;
            sharedKeys.add(x.key);
            sharedVals.add(x.value);
            off += entrySize(x.key, x.value.length);
        }
        sharedSize = off;
        for (int j = 0; j < order.size(); j++) {
            W n = order.get(j);
            XEntry[] entries = perNode.get(j);
            int nShared = 0;
            for (int i = 0; i < entries.length; i++) {
                if (entries[i].offset >= 0 && nShared < Format.XATTR_LONG_PREFIX) {
                    n.xshared[i] = entries[i].offset;
                    nShared++;
                } else {
                    n.xshared[i] = -1;
                }
            }
            n.nShared = nShared;
        }
    }

    private static int entrySize(String key, int valueLen) {
        int suffix = key.length() - Format.XATTR_PREFIXES[Format.xattrIndex(key)].length();
        return (int) roundUp(Format.XATTR_ENTRY_SIZE + suffix + valueLen, 4);
    }

    private static void computeDirSize(W node) {
        int blocks = 0;
        int used = 0;
        for (String name : node.children.keySet()) {
            int len = Format.DIRENT_SIZE + name.length();
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
        node.nBlocks = blocks;
        node.tail = used;
    }

    private static void computeSize(W node) {
        switch (node.type()) {
            case Meta.S_IFDIR -> computeDirSize(node);
            case Meta.S_IFLNK -> {
                node.nBlocks = 0;
                node.tail = node.payload.length();
            }
            case Meta.S_IFREG -> {
                if (node.size == 0) {
                    node.nBlocks = 0;
                    node.tail = 0;
                } else if (node.content != null) {
                    node.nBlocks = (int) (node.size / BLOCK_SIZE);
                    node.tail = (int) (node.size % BLOCK_SIZE);
                    if (node.tail > BLOCK_SIZE / 2) {
                        node.nBlocks++;
                        node.tail = 0;
                    }
                } else {
                    node.nBlocks = 0;
                    node.tail = node.chunkCount * 4;
                }
            }
            default -> {
                node.nBlocks = 0;
                node.tail = 0;
            }
        }
    }

    private boolean fitsCompact(W node) {
        if (node.mtimeSec != minSec || node.mtimeNsec != minNsec) {
            return false;
        }
        if (node.nlink > 0xffff || Integer.toUnsignedLong(node.uid) > 0xffff
                || Integer.toUnsignedLong(node.gid) > 0xffff) {
            return false;
        }
        long size = node.type() == Meta.S_IFDIR ? (long) node.nBlocks * BLOCK_SIZE + node.tail : node.size;
        return size <= 0xffffffffL;
    }

    private static int xattrInodeSize(W node) {
        int unshared = 0;
        for (int i = 0; i < node.xkeys.length; i++) {
            if (node.xshared[i] < 0) {
                unshared += entrySize(node.xkeys[i], node.xvals[i].length);
            }
        }
        if (node.nShared == 0 && unshared == 0) {
            return 0;
        }
        return (int) roundUp(Format.XATTR_IBODY_HEADER_SIZE + node.nShared * 4L + unshared, 4);
    }

    /** Padding before an inode so that its inline tail does not straddle a block boundary. */
    private static long tailPadding(W node, long pos, int inodeSize, int xattrSize) {
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
        for (W n : order) {
            computeSize(n);
            n.compact = fitsCompact(n);
            int inodeSize = n.compact ? Format.INODE_COMPACT_SIZE : Format.INODE_EXTENDED_SIZE;
            n.xattrSize = xattrInodeSize(n);
            if ((n.xattrSize == 0 ? 0 : (n.xattrSize - Format.XATTR_IBODY_HEADER_SIZE) / 4 + 1) > 0xffff) {
                throw new TreeException("xattrs of one inode too large");
            }
            pos = roundUp(pos, SLOT_SIZE);
            pos += tailPadding(n, pos, inodeSize, n.xattrSize);
            n.pos = pos;
            dataBlocks += n.nBlocks;
            pos += inodeSize + n.xattrSize + n.tail;
        }
        inodesEnd = roundUp(pos, SLOT_SIZE);
        if (order.get(0).pos / SLOT_SIZE >= 0xffff) {
            throw new TreeException("root inode number out of range");
        }
    }

    // ---- emitting ----

    private byte[] emit() throws TreeException {
        long dataStart = roundUp(inodesEnd + sharedSize, BLOCK_SIZE);
        long total = dataStart + dataBlocks * BLOCK_SIZE;
        if (total > Integer.MAX_VALUE - 16) {
            throw new TreeException("image would be larger than 2 GiB");
        }
        byte[] img = new byte[(int) total];
        ByteBuffer bb = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);

        bb.putInt(0, Format.COMPOSEFS_MAGIC);
        bb.putInt(4, Format.COMPOSEFS_HEADER_VERSION);
        bb.putInt(8, hasAcl ? Format.COMPOSEFS_FLAGS_HAS_ACL : 0);
        bb.putInt(12, version);

        int sb = Format.SUPER_OFFSET;
        bb.putInt(sb + Format.SB_MAGIC, Format.SUPER_MAGIC);
        bb.putInt(sb + Format.SB_FEATURE_COMPAT, Format.FEATURE_COMPAT_MTIME | Format.FEATURE_COMPAT_XATTR_FILTER);
        bb.put(sb + Format.SB_BLKSZBITS, (byte) Format.BLOCK_BITS);
        bb.putShort(sb + Format.SB_ROOT_NID, (short) (order.get(0).pos / SLOT_SIZE));
        bb.putLong(sb + Format.SB_INOS, order.size());
        bb.putLong(sb + Format.SB_BUILD_TIME, minSec);
        bb.putInt(sb + Format.SB_BUILD_TIME_NSEC, minNsec);
        bb.putInt(sb + Format.SB_BLOCKS, (int) (dataStart / BLOCK_SIZE + dataBlocks));
        bb.putInt(sb + Format.SB_META_BLKADDR, (Format.SUPER_OFFSET + Format.SUPER_SIZE) / BLOCK_SIZE);
        bb.putInt(sb + Format.SB_XATTR_BLKADDR, (int) (inodesEnd / BLOCK_SIZE));

        long end = dataStart;
        for (W n : order) {
            if (n.nBlocks > 0) {
                n.blkaddr = end / BLOCK_SIZE;
                end += (long) BLOCK_SIZE * n.nBlocks;
            }
            writeInode(bb, n);
        }
        int p = (int) inodesEnd;
        for (int i = 0; i < sharedKeys.size(); i++) {
            p = writeXattrEntry(bb, p, sharedKeys.get(i), sharedVals.get(i));
        }
        for (W n : order) {
            writeData(bb, n);
        }
        return img;
    }

    private void writeInode(ByteBuffer bb, W n) {
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
            iu = (int) n.blkaddr;
        }
        if (type == Meta.S_IFCHR || type == Meta.S_IFBLK) {
            iu = (int) n.rdev;
        }
        if (type == Meta.S_IFREG && n.size > 0 && n.content == null) {
            layout = Format.LAYOUT_CHUNK_BASED;
            iu = (iu & 0xffff0000) | (n.chunkBits - Format.BLOCK_BITS); // i_u.c.format overlays the low half
        }
        int icount = n.xattrSize == 0 ? 0 : (n.xattrSize - Format.XATTR_IBODY_HEADER_SIZE) / 4 + 1;
        int format = layout << Format.I_DATALAYOUT_BIT | (n.compact ? 0 : 1) << Format.I_VERSION_BIT;
        int p = (int) n.pos;
        bb.putShort(p, (short) format);
        bb.putShort(p + 2, (short) icount);
        bb.putShort(p + 4, (short) n.mode);
        if (n.compact) {
            bb.putShort(p + 6, (short) n.nlink);
            bb.putInt(p + 8, (int) size);
            bb.putInt(p + 16, iu);
            bb.putInt(p + 20, n.inodeNum);
            bb.putShort(p + 24, (short) n.uid);
            bb.putShort(p + 26, (short) n.gid);
            p += Format.INODE_COMPACT_SIZE;
        } else {
            bb.putLong(p + 8, size);
            bb.putInt(p + 16, iu);
            bb.putInt(p + 20, n.inodeNum);
            bb.putInt(p + 24, n.uid);
            bb.putInt(p + 28, n.gid);
            bb.putLong(p + 32, n.mtimeSec);
            bb.putInt(p + 40, n.mtimeNsec);
            bb.putInt(p + 44, (int) n.nlink);
            p += Format.INODE_EXTENDED_SIZE;
        }
        if (n.xattrSize > 0) {
            int filter = 0;
            for (String key : n.xkeys) {
                filter |= filterBits.computeIfAbsent(key, ErofsWriter::filterBit);
            }
            int start = p;
            bb.putInt(p, ~filter);
            bb.put(p + 4, (byte) n.nShared);
            p += Format.XATTR_IBODY_HEADER_SIZE;
            long base = inodesEnd % BLOCK_SIZE;
            for (int i = 0; i < n.xkeys.length; i++) {
                if (n.xshared[i] >= 0) {
                    bb.putInt(p, (int) ((base + n.xshared[i]) / 4));
                    p += 4;
                }
            }
            for (int i = 0; i < n.xkeys.length; i++) {
                if (n.xshared[i] < 0) {
                    p = writeXattrEntry(bb, p, n.xkeys[i], n.xvals[i]);
                }
            }
            assert p - start == n.xattrSize;
        }
        if (n.tail > 0) {
            switch (type) {
                case Meta.S_IFDIR -> writeDirents(bb, p, n, true);
                case Meta.S_IFLNK -> putLatin1(bb, p, n.payload);
                default -> {
                    if (n.content != null) {
                        bb.put(p, n.content, (int) (n.size - n.tail), n.tail);
                    } else {
                        for (int i = 0; i < n.chunkCount; i++) {
                            bb.putInt(p + 4 * i, Format.NULL_ADDR);
                        }
                    }
                }
            }
        }
    }

    /** The bloom-filter bit of one xattr name (xxh32 of the name after its prefix, seeded by index). */
    private static int filterBit(String key) {
        int idx = Format.xattrIndex(key);
        byte[] suffix = key.substring(Format.XATTR_PREFIXES[idx].length()).getBytes(StandardCharsets.ISO_8859_1);
        return 1 << (XxHash32.hash(suffix, 0, suffix.length, Format.XATTR_FILTER_SEED + idx)
                & (Format.XATTR_FILTER_BITS - 1));
    }

    private static int writeXattrEntry(ByteBuffer bb, int p, String key, byte[] value) {
        int idx = Format.xattrIndex(key);
        String suffix = key.substring(Format.XATTR_PREFIXES[idx].length());
        bb.put(p, (byte) suffix.length());
        bb.put(p + 1, (byte) idx);
        bb.putShort(p + 2, (short) value.length);
        putLatin1(bb, p + 4, suffix);
        bb.put(p + 4 + suffix.length(), value);
        return (int) roundUp(p + 4L + suffix.length() + value.length, 4);
    }

    private static void putLatin1(ByteBuffer bb, int p, String s) {
        latin1(s, bb.array(), p); // straight into the image: no byte[] per name
    }

    /** The Latin-1 bytes of s (one char per byte, as the tree model carries names) into dst at off. */
    private static void latin1(String s, byte[] dst, int off) {
        for (int i = 0, n = s.length(); i < n; i++) {
            dst[off + i] = (byte) s.charAt(i);
        }
    }

    /** Writes the inline tail chunk (tail=true) or the full blocks (tail=false) of a directory. */
    private static void writeDirents(ByteBuffer bb, int p, W dir, boolean tail) {
        List<String> names = new ArrayList<>(dir.children.keySet());
        int used = 0;
        int first = 0;
        int written = 0;
        int out = p;
        for (int i = 0; i < names.size(); i++) {
            int len = Format.DIRENT_SIZE + names.get(i).length();
            if (used + len > BLOCK_SIZE) {
                if (!tail) {
                    writeChunk(bb, out, dir, names, first, i);
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
                writeChunk(bb, out, dir, names, first, names.size());
            }
            used = 0;
            first = names.size();
        }
        if (tail && used > 0) {
            writeChunk(bb, out, dir, names, first, names.size());
        }
    }

    private static void writeChunk(ByteBuffer bb, int p, W dir, List<String> names, int from, int to) {
        int nameoff = (to - from) * Format.DIRENT_SIZE;
        int np = p + nameoff;
        for (int i = from; i < to; i++) {
            String name = names.get(i);
            W target = dir.children.get(name).target();
            int d = p + (i - from) * Format.DIRENT_SIZE;
            bb.putLong(d, target.pos / SLOT_SIZE);
            bb.putShort(d + 8, (short) nameoff);
            bb.put(d + 10, (byte) fileType(target.type()));
            putLatin1(bb, np, name);
            np += name.length();
            nameoff += name.length();
        }
    }

    /** A directory's i_size as the writer lays it out (dirents incl. "." and "..", and the root's 00..ff). */
    public static long directorySize(Directory dir, boolean isRoot) {
        W w = new W();
        w.mode = Meta.S_IFDIR;
        w.children = new TreeMap<>();
        for (String name : dir.entries().keySet()) {
            w.children.put(name, w);
        }
        w.children.put(".", w);
        w.children.put("..", w);
        if (isRoot) {
            for (int i = 0; i <= 255; i++) {
                w.children.putIfAbsent(String.format("%02x", i), w);
            }
        }
        computeDirSize(w);
        return (long) w.nBlocks * BLOCK_SIZE + w.tail;
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

    private static void writeData(ByteBuffer bb, W n) {
        if (n.nBlocks == 0) {
            return;
        }
        int p = (int) (n.blkaddr * BLOCK_SIZE);
        switch (n.type()) {
            case Meta.S_IFDIR -> writeDirents(bb, p, n, false);
            case Meta.S_IFREG -> {
                if (n.content == null) {
                    Arrays.fill(bb.array(), p, p + BLOCK_SIZE, (byte) 0xff); // 1024 null chunk indexes
                } else {
                    bb.put(p, n.content, 0, (int) Math.min(n.size, BLOCK_SIZE));
                }
            }
            case Meta.S_IFLNK -> {
                byte[] t = n.payload.getBytes(StandardCharsets.ISO_8859_1);
                bb.put(p, t, 0, Math.min(t.length, BLOCK_SIZE));
            }
            default -> {
                // devices, fifos and sockets have no data
            }
        }
    }
}
