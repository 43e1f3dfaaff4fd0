package dev.composefs.core.dumpfile;

import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/**
 * Writes a tree as composefs-dump(5), in the order and escaping of upstream's
 * {@code composefs-info dump}: depth-first, entries sorted, one line per path.
 */
public final class DumpWriter {
    private DumpWriter() {}

    /** Directory sizes are not part of the tree model; they are printed as EROFS computes them. */
    public interface DirectorySize {
        long of(Directory dir);
    }

    public static void write(Directory root, OutputStream out, DirectorySize dirSize) throws IOException {
        write(root, out, dirSize, path -> true);
    }

    /**
     * Only the lines whose path include accepts (composefs-info --filter); a hardlink still
     * names the path that holds its inode, wherever that is.
     */
    public static void write(Directory root, OutputStream out, DirectorySize dirSize, Predicate<String> include)
            throws IOException {
        Map<Node, String> firstPath = new IdentityHashMap<>();
        walk(root, (path, node) -> {
            if (!(node instanceof Hardlink)) {
                firstPath.putIfAbsent(node, path);
            }
        });
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        IOException[] failure = new IOException[1];
        walk(root, (path, node) -> {
            if (failure[0] != null || !include.test(path)) {
                return;
            }
            line.reset();
            line(line, path, node, firstPath, dirSize);
            try {
                line.writeTo(out);
            } catch (IOException e) {
                failure[0] = e;
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    private static void line(ByteArrayOutputStream o, String path, Node node, Map<Node, String> firstPath,
            DirectorySize dirSize) {
        Node target = node instanceof Hardlink h ? h.target() : node;
        Meta m = target.meta();
        Escaping.escape(o, path, Escaping.STANDARD);
        long size = switch (target) {
            case RegularFile f -> f.size();
            case Symlink s -> s.target().length();
            case Directory d -> dirSize.of(d);
            default -> 0;
        };
        long rdev = target instanceof Device d ? d.rdev() : 0;
        ascii(o, " " + size + " " + (node instanceof Hardlink ? "@" : "") + Integer.toOctalString(m.mode()) + " "
                + Integer.toUnsignedString(m.nlink()) + " " + Integer.toUnsignedString(m.uid()) + " "
                + Integer.toUnsignedString(m.gid()) + " " + rdev + " " + m.mtimeSec() + "."
                + Integer.toUnsignedString(m.mtimeNsec()) + " ");
        // A hardlink line names the path holding the inode where others have the payload, and
        // otherwise shows the inode as that path's line does (content, digest, xattrs), as
        // upstream's composefs-info does.
        String payload = node instanceof Hardlink ? firstPath.get(target) : switch (target) {
            case RegularFile f -> f.payload();
            case Symlink s -> s.target();
            default -> null;
        };
        optional(o, payload);
        o.write(' ');
        if (target instanceof RegularFile f && f.content() != null && f.content().length > 0) {
            Escaping.escape(o, f.content(), Escaping.ESCAPE_LONE_DASH);
        } else {
            o.write('-');
        }
        o.write(' ');
        if (target instanceof RegularFile f && f.digest() != null) {
            ascii(o, HexFormat.of().formatHex(f.digest()));
        } else {
            o.write('-');
        }
        for (var e : m.xattrs().entries()) {
            o.write(' ');
            Escaping.escape(o, e.getKey(), Escaping.ESCAPE_EQUAL);
            o.write('=');
            Escaping.escape(o, e.getValue(), Escaping.ESCAPE_EQUAL);
        }
        o.write('\n');
    }

    private static void optional(ByteArrayOutputStream o, String s) {
        if (s == null || s.isEmpty()) {
            o.write('-');
        } else {
            Escaping.escape(o, s, Escaping.ESCAPE_LONE_DASH);
        }
    }

    private static void ascii(ByteArrayOutputStream o, String s) {
        o.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Visits (path, node) depth-first in name order; iterative, so depth is not bounded by the stack. */
    public static void walk(Directory root, BiConsumer<String, Node> visitor) {
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {"/", root});
        while (!stack.isEmpty()) {
            Object[] item = stack.pop();
            String path = (String) item[0];
            Node node = (Node) item[1];
            visitor.accept(path, node);
            if (node instanceof Directory d) {
                var names = d.entries().descendingMap();
                for (var e : names.entrySet()) {
                    stack.push(new Object[] {(path.equals("/") ? "/" : path + "/") + e.getKey(), e.getValue()});
                }
            }
        }
    }
}
