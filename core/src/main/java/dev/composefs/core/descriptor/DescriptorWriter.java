package dev.composefs.core.descriptor;

import dev.composefs.core.descriptor.Format.Dirent;
import dev.composefs.core.descriptor.Format.Inode;
import dev.composefs.core.descriptor.Format.Superblock;
import dev.composefs.core.descriptor.Format.Vdata;
import dev.composefs.core.erofs.ErofsWriter;
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
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tree as a kernel composefs driver descriptor. Deterministic: inodes are numbered
 * breadth-first in name order (root 0), variable data follows in inode order, identical xattr
 * sets are stored once; a tree read back from the descriptor writes the same bytes. What the format cannot hold is refused, never dropped: inline file
 * content (the driver reads every non-empty file from a basedir).
 *
 * <p>Directory sizes are written as the EROFS image reports them, so a tree shows the same
 * {@code stat} whichever way it is mounted; ctime is the mtime (the tree has no ctime).
 */
public final class DescriptorWriter {
    private final List<Node> inodes = new ArrayList<>();
    private final List<String> paths = new ArrayList<>();
    private final Map<Node, Integer> numbers = new IdentityHashMap<>();
    private final ByteArrayOutputStream vdata = new ByteArrayOutputStream();
    private final Map<String, Vdata> xattrChunks = new HashMap<>();

    private DescriptorWriter() {}

    public static byte[] write(Directory root) throws TreeException {
        return new DescriptorWriter().run(root);
    }

    private byte[] run(Directory root) throws TreeException {
        number(root);
        Inode[] table = new Inode[inodes.size()];
        for (int i = 0; i < table.length; i++) {
            table[i] = inode(inodes.get(i), paths.get(i), i == 0);
        }
        long vdataOffset = Format.SUPERBLOCK_SIZE + (long) Format.INODE_SIZE * table.length;
        // the driver needs more than a superblock and one inode: an empty tree gets 4 zero bytes
        long total = Math.max(vdataOffset + vdata.size(), Format.MIN_SIZE_EXCLUSIVE + Format.ALIGN);
        if (total > Integer.MAX_VALUE - 16) {
            throw new TreeException("tree too large for a descriptor (" + total + " bytes)");
        }
        ByteBuffer bb = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        new Superblock(Format.VERSION, Format.MAGIC, vdataOffset).put(bb);
        for (int i = 0; i < table.length; i++) {
            table[i].put(bb, Format.SUPERBLOCK_SIZE + i * Format.INODE_SIZE);
        }
        bb.put((int) vdataOffset, vdata.toByteArray());
        return bb.array();
    }

    /**
     * Breadth-first in name order. An inode is numbered where any of its names is first met, so
     * the bytes do not depend on which name the tree model happens to hold the inode under.
     */
    private void number(Directory root) throws TreeException {
        add(root, "/");
        for (int i = 0; i < inodes.size(); i++) {
            if (inodes.get(i) instanceof Directory d) {
                String base = i == 0 ? "/" : paths.get(i) + "/";
                if (i > 0 && base.chars().filter(c -> c == '/').count() - 1 > Limits.MAX_DEPTH) {
                    throw new TreeException(paths.get(i) + ": directories nested deeper than " + Limits.MAX_DEPTH
                            + " levels");
                }
                for (var e : d.entries().entrySet()) {
                    Node n = e.getValue() instanceof Hardlink h ? h.target() : e.getValue();
                    if (!numbers.containsKey(n)) {
                        add(n, base + e.getKey());
                    }
                }
            }
        }
    }

    private void add(Node n, String path) {
        numbers.put(n, inodes.size());
        inodes.add(n);
        paths.add(path);
    }

    private Inode inode(Node n, String path, boolean isRoot) throws TreeException {
        Meta m = n.meta();
        if (!Meta.isValidType(m.mode())) {
            throw new TreeException(path + ": invalid file type in mode 0" + Integer.toOctalString(m.mode()));
        }
        Limits.checkXattrs(m.xattrs(), path);
        Vdata variable = Vdata.NONE;
        Vdata digest = Vdata.NONE;
        long size = 0;
        int nlink = 1;
        int rdev = 0;
        switch (n) {
            case Directory d -> {
                variable = dirents(d, path);
                size = ErofsWriter.directorySize(d, isRoot);
                nlink = 2 + (int) d.entries().values().stream().filter(c -> c instanceof Directory).count();
            }
            case RegularFile f -> {
                if (f.content() != null && f.content().length > 0) {
                    throw new TreeException(path + ": " + f.content().length + " bytes of inline content, which the "
                            + "composefs driver's descriptor cannot hold (every non-empty file needs a backing file)");
                }
                if (f.payload() != null && !f.payload().isEmpty()) {
                    if (f.payload().length() >= Limits.PATH_MAX) {
                        throw new TreeException(path + ": backing path longer than " + (Limits.PATH_MAX - 1) + " bytes");
                    }
                    variable = append(latin1(f.payload()));
                }
                if (f.digest() != null) {
                    if (f.digest().length != Format.DIGEST_SIZE) {
                        throw new TreeException(path + ": digest is not " + Format.DIGEST_SIZE + " bytes");
                    }
                    digest = append(f.digest());
                }
                size = f.size();
                nlink = m.nlink();
            }
            case Symlink s -> {
                if (s.target().isEmpty() || s.target().length() >= Limits.PATH_MAX) {
                    throw new TreeException(path + ": symlink target of " + s.target().length() + " bytes");
                }
                variable = append(latin1(s.target()));
                size = s.target().length();
            }
            // like the EROFS image: the low 32 bits of the dev_t (new_encode_dev's range)
            case Device dev -> rdev = Format.kernelDev(dev.rdev());
            default -> { }
        }
        return new Inode(m.mode() & 0xffff, nlink, m.uid(), m.gid(), rdev, size, m.mtimeSec(), m.mtimeNsec(),
                m.mtimeSec(), m.mtimeNsec(), variable, xattrs(m.xattrs()), digest);
    }

    private Vdata dirents(Directory d, String path) throws TreeException {
        if (d.entries().isEmpty()) {
            return Vdata.NONE;
        }
        int n = d.entries().size();
        ByteArrayOutputStream names = new ByteArrayOutputStream();
        ByteBuffer table = ByteBuffer.allocate(4 + n * Format.DIRENT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        table.putInt(0, n);
        int i = 0;
        // TreeMap order over Latin-1 strings is memcmp order over the name bytes, as the driver's bsearch needs
        for (var e : d.entries().entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.length() > Limits.NAME_MAX) {
                throw new TreeException(path + ": entry name of " + name.length() + " bytes");
            }
            Node child = e.getValue();
            Node target = child instanceof Hardlink h ? h.target() : child;
            Integer num = numbers.get(target);
            if (num == null) {
                throw new TreeException(path + "/" + name + ": hardlink to an inode outside the tree");
            }
            new Dirent(num, names.size(), name.length(), Format.dType(target.meta().mode()))
                    .put(table, 4 + i * Format.DIRENT_SIZE);
            names.writeBytes(latin1(name));
            i++;
        }
        ByteArrayOutputStream all = new ByteArrayOutputStream(table.capacity() + names.size());
        all.writeBytes(table.array());
        all.writeBytes(names.toByteArray());
        return append(all.toByteArray());
    }

    /** u16 n_attr, n x {u16 key_length, u16 value_length}, then key+value bytes; shared by identical sets. */
    private Vdata xattrs(Xattrs x) {
        if (x.isEmpty()) {
            return Vdata.NONE;
        }
        // sorted by name (strcmp order), as the driver looks them up
        List<Map.Entry<String, byte[]>> sorted = new ArrayList<>(x.entries());
        sorted.sort(Map.Entry.comparingByKey());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer head = ByteBuffer.allocate(2 + 4 * x.size()).order(ByteOrder.LITTLE_ENDIAN);
        head.putShort((short) x.size());
        for (var e : sorted) {
            head.putShort((short) e.getKey().length()).putShort((short) e.getValue().length);
        }
        out.writeBytes(head.array());
        for (var e : sorted) {
            out.writeBytes(latin1(e.getKey()));
            out.writeBytes(e.getValue());
        }
        byte[] chunk = out.toByteArray();
        return xattrChunks.computeIfAbsent(new String(chunk, StandardCharsets.ISO_8859_1), k -> append(chunk));
    }

    private Vdata append(byte[] data) {
        Vdata ref = new Vdata(vdata.size(), data.length);
        vdata.writeBytes(data);
        while (vdata.size() % Format.ALIGN != 0) {
            vdata.write(0);
        }
        return ref;
    }

    private static byte[] latin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }
}
