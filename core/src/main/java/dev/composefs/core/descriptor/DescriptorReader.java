package dev.composefs.core.descriptor;

import static dev.composefs.core.dumpfile.Escaping.printable;

import dev.composefs.core.descriptor.Format.Dirent;
import dev.composefs.core.descriptor.Format.Inode;
import dev.composefs.core.descriptor.Format.Superblock;
import dev.composefs.core.descriptor.Format.Vdata;

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
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a kernel composefs driver descriptor back into a tree, showing what the driver would:
 * directory nlink counted from the tree, 1 for other non-regular inodes. Every reference is
 * bounds-checked, dirents must be strictly sorted and match their inode's type, a directory may
 * be reached only once (no loops, no directory hardlinks), and the work is bounded by the file
 * size, so hostile input gives a {@link DescriptorFormatException}, never a hang or an unbounded
 * allocation. The first name of an inode in depth-first name order holds it, later names are
 * {@link Hardlink}s, as the EROFS reader does.
 */
public final class DescriptorReader {
    private static final int MAX_SIZE = Integer.MAX_VALUE - 16;

    /** The tree and the directory sizes the descriptor records (which the tree model does not hold). */
    public record Descriptor(Directory root, Map<Directory, Long> directorySizes) {}

    private final ByteBuffer bb;
    private final long vdataStart;
    private final long vdataLen;
    private final int inodeCount;
    private final Node[] nodes;
    private final Map<Long, Xattrs> xattrCache = new HashMap<>();
    private final Map<Directory, Long> dirSizes = new IdentityHashMap<>();
    /** Entries of directories created but not yet walked. */
    private final Map<Directory, Map<String, Integer>> pendingDirents = new IdentityHashMap<>();
    /** Dirents a well-formed file can hold (each takes 12 bytes of its own): shared dirent tables cannot multiply work. */
    private long direntBudget;
    /** xattr entries materialized; chunks may be shared, so bounded separately. */
    private long xattrBudget;

    private DescriptorReader(byte[] data) throws DescriptorFormatException {
        bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < Format.SUPERBLOCK_SIZE + Format.INODE_SIZE) {
            throw new DescriptorFormatException("truncated: " + data.length + " bytes, a descriptor has at least "
                    + (Format.SUPERBLOCK_SIZE + Format.INODE_SIZE));
        }
        Superblock sb = Superblock.get(bb);
        if (sb.magic() != Format.MAGIC) {
            throw new DescriptorFormatException("not a composefs descriptor (bad magic 0x"
                    + Integer.toHexString(sb.magic()) + ")");
        }
        if (sb.version() != Format.VERSION) {
            throw new DescriptorFormatException("unsupported descriptor version " + Integer.toUnsignedString(sb.version()));
        }
        long table = sb.vdataOffset() - Format.SUPERBLOCK_SIZE;
        if (sb.vdataOffset() < Format.SUPERBLOCK_SIZE + Format.INODE_SIZE || sb.vdataOffset() > data.length
                || table % Format.INODE_SIZE != 0) {
            throw new DescriptorFormatException("variable data offset " + Long.toUnsignedString(sb.vdataOffset())
                    + " does not end a whole inode table within the file (" + data.length + " bytes)");
        }
        vdataStart = sb.vdataOffset();
        vdataLen = data.length - vdataStart;
        inodeCount = (int) (table / Format.INODE_SIZE);
        nodes = new Node[inodeCount];
        direntBudget = data.length / Format.DIRENT_SIZE;
        xattrBudget = 4L * data.length + (1 << 20);
    }

    public static Descriptor read(byte[] data) throws DescriptorFormatException {
        return new DescriptorReader(data).run();
    }

    /** Reads a descriptor file (or pipe), bounded like an image. */
    public static Descriptor read(Path file) throws IOException {
        byte[] data = InputFiles.read(file, Math.min(MAX_SIZE, InputFiles.MAX_IMAGE_SIZE), "descriptor");
        try {
            return read(data);
        } catch (DescriptorFormatException e) {
            throw new DescriptorFormatException(file + ": " + e.getMessage());
        }
    }

    /** Whether these bytes start like a descriptor (its magic follows a u32 version). */
    public static boolean looksLikeDescriptor(byte[] head) {
        return head.length >= 8 && ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt(4) == Format.MAGIC;
    }

    private Descriptor run() throws DescriptorFormatException {
        if ((inode(0).mode() & Meta.S_IFMT) != Meta.S_IFDIR) {
            throw new DescriptorFormatException("root inode 0 is not a directory (mode 0"
                    + Integer.toOctalString(inode(0).mode()) + ")");
        }
        Directory rootDir = (Directory) node(0, "/");
        // Depth-first in name order with an explicit stack: deep trees cannot overflow the Java stack.
        record Frame(Directory dir, String path, Iterator<Map.Entry<String, Integer>> it) {}
        ArrayDeque<Frame> stack = new ArrayDeque<>();
        stack.push(new Frame(rootDir, "", pendingDirents.remove(rootDir).entrySet().iterator()));
        while (!stack.isEmpty()) {
            Frame f = stack.peek();
            if (!f.it().hasNext()) {
                stack.pop();
                continue;
            }
            Map.Entry<String, Integer> e = f.it().next();
            String path = f.path() + "/" + e.getKey();
            int num = e.getValue();
            Node existing = nodes[num];
            if (existing != null) {
                if (existing instanceof Directory) {
                    throw new DescriptorFormatException(path + ": directory inode " + num
                            + " is reachable twice (loop or directory hardlink)");
                }
                f.dir().entries().put(e.getKey(), new Hardlink(existing));
                continue;
            }
            Node child = node(num, path);
            f.dir().entries().put(e.getKey(), child);
            if (child instanceof Directory d) {
                if (stack.size() > Limits.MAX_DEPTH) {
                    throw new DescriptorFormatException(path + ": directories nested deeper than " + Limits.MAX_DEPTH
                            + " levels");
                }
                stack.push(new Frame(d, path, pendingDirents.remove(d).entrySet().iterator()));
            }
        }
        return new Descriptor(rootDir, dirSizes);
    }

    private Inode inode(int num) {
        return Inode.get(bb, Format.SUPERBLOCK_SIZE + num * Format.INODE_SIZE);
    }

    private Node node(int num, String path) throws DescriptorFormatException {
        Inode ino = inode(num);
        String where = path + " (inode " + num + ")";
        int mode = ino.mode();
        if ((mode & ~0xffff) != 0 || !Meta.isValidType(mode)) {
            throw new DescriptorFormatException(where + ": invalid mode 0" + Integer.toOctalString(mode));
        }
        int type = mode & Meta.S_IFMT;
        Xattrs xattrs = xattrs(ino.xattrs(), where);
        Map<String, Integer> entries = type == Meta.S_IFDIR ? dirents(num, path) : null;
        // The descriptor holds nlink for regular files only; the driver counts directories and says 1 for the rest.
        int nlink = switch (type) {
            case Meta.S_IFREG -> ino.nlink();
            case Meta.S_IFDIR -> 2 + (int) entries.values().stream()
                    .filter(c -> (inode(c).mode() & Meta.S_IFMT) == Meta.S_IFDIR).count();
            default -> 1;
        };
        Meta meta = new Meta(mode, ino.uid(), ino.gid(), ino.mtimeSec(), ino.mtimeNsec(), nlink, xattrs);
        if (type != Meta.S_IFREG && ino.digest().len() != 0) {
            throw new DescriptorFormatException(where + ": a digest on an inode that is not a regular file");
        }
        if (type != Meta.S_IFREG && type != Meta.S_IFDIR && type != Meta.S_IFLNK && ino.variable().len() != 0) {
            throw new DescriptorFormatException(where + ": variable data on an inode that has none");
        }
        Node n = switch (type) {
            case Meta.S_IFDIR -> {
                Directory d = new Directory(meta);
                dirSizes.put(d, ino.size());
                pendingDirents.put(d, entries);
                yield d;
            }
            case Meta.S_IFREG -> {
                if (ino.size() < 0) {
                    throw new DescriptorFormatException(where + ": file size " + Long.toUnsignedString(ino.size()));
                }
                String payload = null;
                if (ino.variable().len() != 0) {
                    if (ino.variable().unsignedLen() >= Limits.PATH_MAX) {
                        throw new DescriptorFormatException(where + ": backing path of "
                                + ino.variable().unsignedLen() + " bytes");
                    }
                    payload = latin1(ino.variable(), where + " backing path");
                    if (payload.indexOf('\0') >= 0) {
                        throw new DescriptorFormatException(where + ": backing path contains a NUL byte");
                    }
                }
                byte[] digest = null;
                if (ino.digest().len() != 0) {
                    if (ino.digest().len() != Format.DIGEST_SIZE) {
                        throw new DescriptorFormatException(where + ": digest of " + ino.digest().unsignedLen()
                                + " bytes (expected " + Format.DIGEST_SIZE + ")");
                    }
                    digest = bytes(ino.digest(), where + " digest");
                }
                yield new RegularFile(meta, ino.size(), null, payload, digest);
            }
            case Meta.S_IFLNK -> {
                long len = ino.variable().unsignedLen();
                if (len == 0 || len >= Limits.PATH_MAX) {
                    throw new DescriptorFormatException(where + ": symlink target of " + len + " bytes");
                }
                String target = latin1(ino.variable(), where + " symlink target");
                if (target.indexOf('\0') >= 0) {
                    throw new DescriptorFormatException(where + ": symlink target contains a NUL byte");
                }
                yield new Symlink(meta, target);
            }
            case Meta.S_IFCHR, Meta.S_IFBLK -> new Device(meta, Format.userDev(ino.rdev()));
            case Meta.S_IFIFO -> new Fifo(meta);
            default -> new Socket(meta);
        };
        nodes[num] = n;
        return n;
    }

    /** A directory's entries, name -> inode number, checked: in bounds, sorted, valid names and types. */
    private Map<String, Integer> dirents(int num, String path) throws DescriptorFormatException {
        Vdata ref = inode(num).variable();
        Map<String, Integer> out = new LinkedHashMap<>();
        if (ref.len() == 0) {
            return out;
        }
        long at = resolve(ref, path + ": dirents");
        if (ref.unsignedLen() < 4) {
            throw new DescriptorFormatException(path + ": directory data of " + ref.unsignedLen() + " bytes");
        }
        long n = Integer.toUnsignedLong(bb.getInt((int) at));
        long tableEnd = 4 + n * Format.DIRENT_SIZE;
        if (tableEnd > ref.unsignedLen()) {
            throw new DescriptorFormatException(path + ": " + n + " dirents do not fit its " + ref.unsignedLen()
                    + " bytes of directory data");
        }
        direntBudget -= n;
        if (direntBudget < 0) {
            throw new DescriptorFormatException(path + ": more dirents than the file can hold (shared dirent tables?)");
        }
        long namesStart = at + tableEnd;
        long namesLen = ref.unsignedLen() - tableEnd;
        String previous = null;
        for (int i = 0; i < n; i++) {
            Dirent d = Dirent.get(bb, (int) (at + 4 + (long) i * Format.DIRENT_SIZE));
            long off = Integer.toUnsignedLong(d.nameOffset());
            if (d.nameLen() == 0 || off + d.nameLen() > namesLen) {
                throw new DescriptorFormatException(path + ": dirent " + i + " has its name outside the name table");
            }
            byte[] raw = new byte[d.nameLen()];
            bb.get((int) (namesStart + off), raw);
            String name = new String(raw, StandardCharsets.ISO_8859_1);
            String child = (path.equals("/") ? "/" : path + "/") + printable(name);
            if (name.equals(".") || name.equals("..") || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
                throw new DescriptorFormatException(path + ": invalid entry name '" + printable(name) + "'");
            }
            if (previous != null && previous.compareTo(name) >= 0) { // Latin-1: String order is memcmp order
                throw new DescriptorFormatException(path + ": dirents not strictly sorted ('" + printable(previous)
                        + "' before '" + printable(name) + "'): the driver's binary search would miss entries");
            }
            previous = name;
            long target = Integer.toUnsignedLong(d.inode());
            if (target >= inodeCount) {
                throw new DescriptorFormatException(child + ": inode " + target + " beyond the inode table ("
                        + inodeCount + " inodes)");
            }
            if (target == 0) {
                throw new DescriptorFormatException(child + ": points back to the root (loop)");
            }
            int mode = inode((int) target).mode();
            if (d.dType() != Format.dType(mode)) {
                throw new DescriptorFormatException(child + ": d_type " + d.dType() + " differs from its inode's type ("
                        + Format.dType(mode) + ")");
            }
            out.put(name, (int) target);
        }
        return out;
    }

    private Xattrs xattrs(Vdata ref, String where) throws DescriptorFormatException {
        if (ref.len() == 0) {
            return new Xattrs();
        }
        long at = resolve(ref, where + ": xattrs");
        Xattrs cached = xattrCache.get(at << 32 | ref.unsignedLen());
        Xattrs x = cached != null ? cached.copy() : parseXattrs(at, ref.unsignedLen(), where);
        if (cached == null) {
            xattrCache.put(at << 32 | ref.unsignedLen(), x.copy());
        }
        xattrBudget -= x.size();
        if (xattrBudget < 0) {
            throw new DescriptorFormatException(where + ": more xattrs referenced than the file size allows");
        }
        return x;
    }

    private Xattrs parseXattrs(long at, long len, String where) throws DescriptorFormatException {
        if (len < 2) {
            throw new DescriptorFormatException(where + ": xattr data of " + len + " bytes");
        }
        int n = Short.toUnsignedInt(bb.getShort((int) at));
        long p = 2 + 4L * n;
        if (p > len) {
            throw new DescriptorFormatException(where + ": " + n + " xattr headers do not fit " + len + " bytes");
        }
        Xattrs x = new Xattrs();
        String previous = null;
        for (int i = 0; i < n; i++) {
            int keyLen = Short.toUnsignedInt(bb.getShort((int) (at + 2 + 4L * i)));
            int valueLen = Short.toUnsignedInt(bb.getShort((int) (at + 4 + 4L * i)));
            if (p + keyLen + valueLen > len) {
                throw new DescriptorFormatException(where + ": xattr " + i + " runs past its data");
            }
            if (keyLen == 0 || keyLen > Limits.XATTR_NAME_MAX) {
                throw new DescriptorFormatException(where + ": xattr " + i + " has a name of " + keyLen + " bytes");
            }
            byte[] key = new byte[keyLen];
            bb.get((int) (at + p), key);
            byte[] value = new byte[valueLen];
            bb.get((int) (at + p + keyLen), value);
            p += keyLen + valueLen;
            String k = new String(key, StandardCharsets.ISO_8859_1);
            if (k.indexOf('\0') >= 0) {
                throw new DescriptorFormatException(where + ": xattr name contains a NUL byte");
            }
            if (previous != null && previous.compareTo(k) >= 0) {
                throw new DescriptorFormatException(where + ": xattrs not strictly sorted by name ('"
                        + printable(previous) + "' before '" + printable(k) + "')");
            }
            previous = k;
            x.put(k, value);
        }
        return x;
    }

    /** The absolute offset of a reference, after checking it lies inside the variable data section. */
    private long resolve(Vdata ref, String what) throws DescriptorFormatException {
        long off = ref.off();
        long len = ref.unsignedLen();
        if (off < 0 || off > vdataLen || len > vdataLen - off) {
            throw new DescriptorFormatException(what + " at " + Long.toUnsignedString(off) + "+" + len
                    + " lies outside the variable data section (" + vdataLen + " bytes)");
        }
        return vdataStart + off;
    }

    private byte[] bytes(Vdata ref, String what) throws DescriptorFormatException {
        long at = resolve(ref, what);
        byte[] b = new byte[ref.len()];
        bb.get((int) at, b);
        return b;
    }

    private String latin1(Vdata ref, String what) throws DescriptorFormatException {
        return new String(bytes(ref, what), StandardCharsets.ISO_8859_1);
    }
}
