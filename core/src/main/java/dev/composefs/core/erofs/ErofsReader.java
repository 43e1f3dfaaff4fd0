package dev.composefs.core.erofs;

import static dev.composefs.core.erofs.Format.BLOCK_SIZE;

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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.composefs.core.util.InputFiles;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a composefs EROFS image back into a tree, undoing what the writer added (overlay
 * xattrs, escaped whiteouts, the root's 00..ff whiteouts). Every offset is checked against the
 * image, directories may not repeat (no loops), and the work is bounded by the image size, so a
 * hostile image yields an {@link ImageFormatException}, never a hang or an unbounded allocation.
 */
public final class ErofsReader {

    private final ByteBuffer bb;
    private final int len;
    private long buildTime;
    private int buildTimeNsec;
    private long xattrStart;
    private final Map<Long, Node> seen = new HashMap<>();
    private boolean hasHardlinks;
    /** Inodes that are overlayfs' own whiteouts (real chardev 0:0, not escaped ones): not part of the tree. */
    private final Set<Long> overlayWhiteouts = new HashSet<>();
    /** Bytes of file and directory data the reader may still copy: overlapping extents cannot multiply memory. */
    private long budget;

    private ErofsReader(byte[] image) {
        this.bb = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        this.len = image.length;
        this.budget = 4L * image.length + (1 << 20);
    }

    /** Reads an image file (or pipe), bounded by {@link InputFiles#MAX_IMAGE_SIZE}. */
    public static Directory read(Path image) throws IOException {
        byte[] data = InputFiles.read(image, InputFiles.MAX_IMAGE_SIZE, "image");
        try {
            return read(data);
        } catch (ImageFormatException e) {
            throw new ImageFormatException(image + ": " + e.getMessage());
        }
    }

    public static Directory read(byte[] image) throws ImageFormatException {
        return new ErofsReader(image).run();
    }

    /** The composefs format version recorded in the header. */
    public static int version(byte[] image) throws ImageFormatException {
        ErofsReader r = new ErofsReader(image);
        r.need(0, 16, "composefs header");
        return r.bb.getInt(12);
    }

    private Directory run() throws ImageFormatException {
        need(0, Format.SUPER_OFFSET + Format.SUPER_SIZE, "header and superblock");
        if (bb.getInt(0) != Format.COMPOSEFS_MAGIC) {
            throw new ImageFormatException("not a composefs image (bad header magic)");
        }
        if (bb.getInt(4) != Format.COMPOSEFS_HEADER_VERSION) {
            throw new ImageFormatException("unsupported composefs header version " + bb.getInt(4));
        }
        int sb = Format.SUPER_OFFSET;
        if (bb.getInt(sb + Format.SB_MAGIC) != Format.SUPER_MAGIC) {
            throw new ImageFormatException("bad EROFS superblock magic");
        }
        if ((bb.get(sb + Format.SB_BLKSZBITS) & 0xff) != Format.BLOCK_BITS) {
            throw new ImageFormatException("unsupported EROFS block size");
        }
        if (bb.getInt(sb + Format.SB_META_BLKADDR) != 0) {
            throw new ImageFormatException("unsupported EROFS meta_blkaddr");
        }
        buildTime = bb.getLong(sb + Format.SB_BUILD_TIME);
        buildTimeNsec = bb.getInt(sb + Format.SB_BUILD_TIME_NSEC);
        xattrStart = Integer.toUnsignedLong(bb.getInt(sb + Format.SB_XATTR_BLKADDR)) * BLOCK_SIZE;
        long rootNid = Short.toUnsignedInt(bb.getShort(sb + Format.SB_ROOT_NID));
        Node root = node(rootNid, 0);
        if (!(root instanceof Directory d)) {
            throw new ImageFormatException("root inode is not a directory");
        }
        // Children are filled in iteratively (explicit stack): deep trees cannot overflow the stack.
        ArrayDeque<Object[]> work = new ArrayDeque<>();
        work.push(new Object[] {rootNid, d, 0});
        while (!work.isEmpty()) {
            Object[] item = work.pop();
            long nid = (Long) item[0];
            Directory dir = (Directory) item[1];
            int depth = (Integer) item[2];
            if (depth > Limits.MAX_DEPTH) {
                throw new ImageFormatException("directories nested deeper than " + Limits.MAX_DEPTH + " levels");
            }
            Inode ino = inode(nid);
            byte[] data = data(ino);
            readDir(data, ino, dir, depth, work);
        }
        if (hasHardlinks) {
            firstNameInDepthFirstOrder(d);
        }
        return d;
    }

    /**
     * Nodes were created level by level, so an inode's first name may be a deeper one. Upstream's
     * reader recurses, so the first name in depth-first name order holds the inode and the others
     * are hardlinks to it; this moves the inode there.
     */
    private static void firstNameInDepthFirstOrder(Directory root) {
        record Place(Directory dir, String name) {}
        Map<Node, Place> first = new IdentityHashMap<>();
        Map<Node, Place> actual = new IdentityHashMap<>();
        record Cursor(Directory dir, Iterator<Map.Entry<String, Node>> it) {}
        ArrayDeque<Cursor> stack = new ArrayDeque<>();
        stack.push(new Cursor(root, root.entries().entrySet().iterator()));
        while (!stack.isEmpty()) {
            Cursor c = stack.peek();
            if (!c.it().hasNext()) {
                stack.pop();
                continue;
            }
            var e = c.it().next();
            Node n = e.getValue();
            Node inode = n instanceof Hardlink h ? h.target() : n;
            first.putIfAbsent(inode, new Place(c.dir(), e.getKey()));
            if (!(n instanceof Hardlink)) {
                actual.put(inode, new Place(c.dir(), e.getKey()));
            }
            if (n instanceof Directory sub) {
                stack.push(new Cursor(sub, sub.entries().entrySet().iterator()));
            }
        }
        List<Map.Entry<Node, Place>> moves = new ArrayList<>(first.entrySet());
        for (var e : moves) {
            Place f = e.getValue();
            Place a = actual.get(e.getKey());
            if (a != null && (f.dir() != a.dir() || !f.name().equals(a.name()))) {
                f.dir().entries().put(f.name(), e.getKey());
                a.dir().entries().put(a.name(), new Hardlink(e.getKey()));
            }
        }
    }

    /** The fields of one on-disk inode the reader needs. */
    private record Inode(long nid, long pos, boolean compact, int layout, int mode, long nlink, long size, int iu,
            int uid, int gid, long mtime, int mtimeNsec, int xattrSize, long bodyEnd) {}

    private Inode inode(long nid) throws ImageFormatException {
        long pos = nid * Format.SLOT_SIZE;
        if (nid < 0 || pos < Format.SUPER_OFFSET + Format.SUPER_SIZE) {
            throw new ImageFormatException("inode " + nid + " points into the superblock");
        }
        need(pos, Format.INODE_COMPACT_SIZE, "inode " + nid);
        int p = (int) pos;
        int format = Short.toUnsignedInt(bb.getShort(p));
        boolean compact = (format & 1) == 0;
        int layout = (format >> Format.I_DATALAYOUT_BIT) & 0x7;
        if ((format & ~0xf) != 0) {
            throw new ImageFormatException("inode " + nid + ": unsupported format bits 0x" + Integer.toHexString(format));
        }
        int icount = Short.toUnsignedInt(bb.getShort(p + 2));
        int xattrSize = icount == 0 ? 0 : Format.XATTR_IBODY_HEADER_SIZE + (icount - 1) * 4;
        int mode = Short.toUnsignedInt(bb.getShort(p + 4));
        Inode ino;
        if (compact) {
            ino = new Inode(nid, pos, true, layout, mode, Short.toUnsignedInt(bb.getShort(p + 6)),
                    Integer.toUnsignedLong(bb.getInt(p + 8)), bb.getInt(p + 16), Short.toUnsignedInt(bb.getShort(p + 24)),
                    Short.toUnsignedInt(bb.getShort(p + 26)), buildTime, buildTimeNsec, xattrSize,
                    pos + Format.INODE_COMPACT_SIZE + xattrSize);
        } else {
            need(pos, Format.INODE_EXTENDED_SIZE, "inode " + nid);
            long size = bb.getLong(p + 8);
            if (size < 0) {
                throw new ImageFormatException("inode " + nid + ": size out of range");
            }
            ino = new Inode(nid, pos, false, layout, mode, Integer.toUnsignedLong(bb.getInt(p + 44)), size,
                    bb.getInt(p + 16), bb.getInt(p + 24), bb.getInt(p + 28), bb.getLong(p + 32), bb.getInt(p + 40),
                    xattrSize, pos + Format.INODE_EXTENDED_SIZE + xattrSize);
        }
        need(pos, ino.bodyEnd() - pos, "xattrs of inode " + nid);
        return ino;
    }

    /** The data of a flat (plain or inline) inode, bounds-checked. */
    private byte[] data(Inode ino) throws ImageFormatException {
        long size = ino.size();
        budget -= size;
        if (budget < 0) {
            throw new ImageFormatException("inode " + ino.nid() + ": the image references far more data than it holds");
        }
        if (ino.layout() == Format.LAYOUT_FLAT_PLAIN) {
            long start = Integer.toUnsignedLong(ino.iu()) * BLOCK_SIZE;
            if (size == 0) {
                return new byte[0];
            }
            need(start, size, "data of inode " + ino.nid());
            return slice(start, size);
        }
        if (ino.layout() == Format.LAYOUT_FLAT_INLINE) {
            long blocks = size / BLOCK_SIZE;
            long tail = size % BLOCK_SIZE;
            long start = Integer.toUnsignedLong(ino.iu()) * BLOCK_SIZE;
            if (blocks > 0) {
                need(start, blocks * BLOCK_SIZE, "data of inode " + ino.nid());
            }
            need(ino.bodyEnd(), tail, "inline data of inode " + ino.nid());
            byte[] out = new byte[(int) size];
            if (blocks > 0) {
                bb.get((int) start, out, 0, (int) (blocks * BLOCK_SIZE));
            }
            bb.get((int) ino.bodyEnd(), out, (int) (blocks * BLOCK_SIZE), (int) tail);
            return out;
        }
        throw new ImageFormatException("inode " + ino.nid() + ": unsupported data layout " + ino.layout());
    }

    private Node node(long nid, int depth) throws ImageFormatException {
        Node existing = seen.get(nid);
        if (existing != null) {
            if (existing instanceof Directory) {
                throw new ImageFormatException("directory inode " + nid + " is reachable twice (loop or hardlink)");
            }
            hasHardlinks = true;
            return new Hardlink(existing instanceof Hardlink h ? h.target() : existing);
        }
        Inode ino = inode(nid);
        Xattrs xattrs = new Xattrs();
        int type = ino.mode() & Meta.S_IFMT;
        String[] payload = new String[1];
        byte[][] digest = new byte[1][];
        boolean[] whiteout = new boolean[1];
        readXattrs(ino, type, xattrs, payload, digest, whiteout);
        Meta meta = new Meta(ino.mode(), ino.uid(), ino.gid(), ino.mtime(), ino.mtimeNsec(), (int) ino.nlink(), xattrs);
        Node node;
        if (whiteout[0]) {
            node = new Device(meta.withMode((ino.mode() & ~Meta.S_IFMT) | Meta.S_IFCHR), 0);
        } else {
            node = switch (type) {
                case Meta.S_IFDIR -> new Directory(meta);
                case Meta.S_IFREG -> {
                    if (ino.layout() == Format.LAYOUT_CHUNK_BASED) {
                        yield new RegularFile(meta, ino.size(), null, payload[0], digest[0]);
                    }
                    byte[] content = data(ino);
                    yield new RegularFile(meta, ino.size(), content.length == 0 ? null : content, payload[0], digest[0]);
                }
                case Meta.S_IFLNK -> {
                    if (ino.size() == 0 || ino.size() >= 4096) {
                        throw new ImageFormatException("symlink inode " + nid + " has invalid size " + ino.size());
                    }
                    yield new Symlink(meta, new String(data(ino), StandardCharsets.ISO_8859_1));
                }
                case Meta.S_IFCHR, Meta.S_IFBLK -> {
                    if (type == Meta.S_IFCHR && ino.iu() == 0) {
                        overlayWhiteouts.add(nid);
                    }
                    yield new Device(meta, Integer.toUnsignedLong(ino.iu()));
                }
                case Meta.S_IFIFO -> new Fifo(meta);
                case Meta.S_IFSOCK -> new Socket(meta);
                default -> throw new ImageFormatException("inode " + nid + " has invalid mode 0"
                        + Integer.toOctalString(ino.mode()));
            };
        }
        seen.put(nid, node);
        return node;
    }

    private void readXattrs(Inode ino, int type, Xattrs out, String[] payload, byte[][] digest, boolean[] whiteout)
            throws ImageFormatException {
        if (ino.xattrSize() == 0) {
            return;
        }
        long p = ino.pos() + (ino.compact() ? Format.INODE_COMPACT_SIZE : Format.INODE_EXTENDED_SIZE);
        long end = ino.bodyEnd();
        int shared = bb.get((int) p + 4) & 0xff;
        p += Format.XATTR_IBODY_HEADER_SIZE;
        if (p + 4L * shared > end) {
            throw new ImageFormatException("inode " + ino.nid() + ": shared xattr count exceeds the xattr area");
        }
        // Inline entries first, then the shared ones: the order upstream's reader sets them in,
        // which is the order its composefs-info dump prints.
        long ids = p;
        p += 4L * shared;
        while (p < end) {
            p = entry(ino, type, p, end, out, payload, digest, whiteout);
        }
        for (int i = 0; i < shared; i++) {
            long id = Integer.toUnsignedLong(bb.getInt((int) (ids + 4L * i)));
            long at = (xattrStart / BLOCK_SIZE) * BLOCK_SIZE + id * 4;
            entry(ino, type, at, len, out, payload, digest, whiteout);
        }
    }

    private long entry(Inode ino, int type, long at, long limit, Xattrs out, String[] payload, byte[][] digest,
            boolean[] whiteout) throws ImageFormatException {
        if (at < 0 || at + 4 > limit) {
            throw new ImageFormatException("inode " + ino.nid() + ": xattr entry outside its area");
        }
        int nameLen = bb.get((int) at) & 0xff;
        int index = bb.get((int) at + 1) & 0xff;
        int valueLen = Short.toUnsignedInt(bb.getShort((int) at + 2));
        if (at + 4 + nameLen + valueLen > limit) {
            throw new ImageFormatException("inode " + ino.nid() + ": xattr entry runs past its area");
        }
        if (index >= Format.XATTR_PREFIXES.length || (index == 5) || (index == 0 && nameLen == 0)) {
            throw new ImageFormatException("inode " + ino.nid() + ": unsupported xattr name index " + index);
        }
        String name = Format.XATTR_PREFIXES[index]
                + new String(slice(at + 4, nameLen), StandardCharsets.ISO_8859_1);
        byte[] value = slice(at + 4 + nameLen, valueLen);
        interpret(type, name, value, out, payload, digest, whiteout);
        return Format.roundUp(at + 4 + nameLen + valueLen, 4);
    }

    /** Undoes the writer's overlay xattrs (lcfs_build_node_erofs_xattr). */
    private static void interpret(int type, String name, byte[] value, Xattrs out, String[] payload,
            byte[][] digest, boolean[] whiteout) {
        switch (name) {
            case ErofsWriter.REDIRECT -> {
                if (type == Meta.S_IFREG) {
                    String v = new String(value, StandardCharsets.ISO_8859_1);
                    payload[0] = v.length() > 1 && v.charAt(0) == '/' ? v.substring(1) : v;
                }
                return;
            }
            case ErofsWriter.METACOPY -> {
                if (type == Meta.S_IFREG && value.length == 36) {
                    digest[0] = Arrays.copyOfRange(value, 4, 36);
                }
                return;
            }
            case ErofsWriter.ESCAPED_WHITEOUT -> {
                if (type == Meta.S_IFREG) {
                    whiteout[0] = true;
                    return;
                }
            }
            case ErofsWriter.ESCAPED_WHITEOUTS, ErofsWriter.USER_WHITEOUT, ErofsWriter.USER_WHITEOUTS -> {
                return;
            }
            default -> {
                // ordinary xattr, handled below
            }
        }
        if (name.startsWith(ErofsWriter.OVERLAY_PREFIX)) {
            if (!name.startsWith(ErofsWriter.OVERLAY_ESCAPE_PREFIX)) {
                return; // overlayfs' own markers (e.g. the root's opaque)
            }
            name = ErofsWriter.OVERLAY_PREFIX + name.substring(ErofsWriter.OVERLAY_ESCAPE_PREFIX.length());
        }
        out.put(name, value);
    }

    private void readDir(byte[] data, Inode dirIno, Directory dir, int depth, ArrayDeque<Object[]> work)
            throws ImageFormatException {
        for (int blockStart = 0; blockStart < data.length; blockStart += BLOCK_SIZE) {
            int blockLen = Math.min(BLOCK_SIZE, data.length - blockStart);
            ByteBuffer b = ByteBuffer.wrap(data, blockStart, blockLen).slice().order(ByteOrder.LITTLE_ENDIAN);
            if (blockLen < Format.DIRENT_SIZE) {
                throw new ImageFormatException("directory inode " + dirIno.nid() + ": truncated dirent block");
            }
            int first = Short.toUnsignedInt(b.getShort(8));
            if (first == 0 || first % Format.DIRENT_SIZE != 0 || first > blockLen) {
                throw new ImageFormatException("directory inode " + dirIno.nid() + ": bad dirent table");
            }
            int n = first / Format.DIRENT_SIZE;
            String prev = null;
            for (int i = 0; i < n; i++) {
                long nid = b.getLong(i * Format.DIRENT_SIZE);
                int off = Short.toUnsignedInt(b.getShort(i * Format.DIRENT_SIZE + 8));
                int next = i + 1 < n ? Short.toUnsignedInt(b.getShort((i + 1) * Format.DIRENT_SIZE + 8)) : blockLen;
                if (off < first || next > blockLen || next <= off) {
                    throw new ImageFormatException("directory inode " + dirIno.nid() + ": bad dirent name offsets");
                }
                int nameLen = next - off;
                if (i + 1 == n) {
                    int z = off;
                    while (z < blockLen && b.get(z) != 0) {
                        z++;
                    }
                    nameLen = z - off;
                }
                if (nameLen == 0 || nameLen > 255) {
                    throw new ImageFormatException("directory inode " + dirIno.nid() + ": bad name length " + nameLen);
                }
                byte[] nb = new byte[nameLen];
                b.get(off, nb);
                String name = new String(nb, StandardCharsets.ISO_8859_1);
                if (prev != null && prev.compareTo(name) >= 0) {
                    throw new ImageFormatException("directory inode " + dirIno.nid() + ": names not sorted");
                }
                prev = name;
                if (name.equals(".") || name.equals("..") || name.indexOf('/') >= 0) {
                    continue;
                }
                Node child = node(nid, depth + 1);
                if (overlayWhiteouts.contains(nid)) {
                    continue; // overlayfs' own whiteouts (the root's 00..ff)
                }
                if (dir.entries().put(name, child) != null) {
                    throw new ImageFormatException("directory inode " + dirIno.nid() + ": duplicate name");
                }
                if (child instanceof Directory cd) {
                    work.push(new Object[] {nid, cd, depth + 1});
                }
            }
        }
    }

    private void need(long off, long n, String what) throws ImageFormatException {
        if (off < 0 || n < 0 || off + n > len) {
            throw new ImageFormatException(what + " lies outside the image (offset " + off + ", " + n + " bytes, image "
                    + len + " bytes)");
        }
    }

    private byte[] slice(long off, long n) {
        byte[] out = new byte[(int) n];
        bb.get((int) off, out);
        return out;
    }
}
