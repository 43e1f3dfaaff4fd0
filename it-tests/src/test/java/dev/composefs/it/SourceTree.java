package dev.composefs.it;

import dev.composefs.core.dumpfile.Escaping;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * A source tree the tests build on disk with every file type, size class and attribute the
 * image must carry, and the composefs-dump(5) that upstream's mkcomposefs gives for it, written
 * independently of our scanner: metadata from java.nio, xattrs from getfattr(1), digests from
 * fsverity(1). Only the dump syntax (escaping) is shared with the product.
 */
final class SourceTree {
    static final long MTIME = 1_700_000_000L;
    /**
     * Built by root, the tree also has devices (a whiteout among them), foreign owners, an
     * unreadable file and trusted.* and security.* xattrs; as any other user, the rest.
     */
    static final boolean PRIVILEGED = "root".equals(System.getProperty("user.name"));
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    private SourceTree() {}

    /** Builds the tree under root (which must not exist yet). */
    static void build(Path root) throws Exception {
        Files.createDirectories(root);
        Random rnd = new Random(42);
        int[] sizes = {0, 1, 63, 64, 65, 4095, 4096, 4097, 8192, 100_000, (1 << 20) + 1};
        Path sizesDir = Files.createDirectory(root.resolve("sizes"));
        for (int s : sizes) {
            byte[] data = new byte[s];
            rnd.nextBytes(data);
            Files.write(sizesDir.resolve("f" + s), data);
        }
        // same content twice: one object
        Files.copy(sizesDir.resolve("f4097"), root.resolve("dup-of-4097"));
        Path links = Files.createDirectory(root.resolve("links"));
        Files.write(links.resolve("a"), new byte[5000]);
        Files.createLink(links.resolve("b"), links.resolve("a"));
        Files.createLink(root.resolve("z-third-name"), links.resolve("a"));
        Files.createSymbolicLink(links.resolve("rel"), Path.of("a"));
        Files.createSymbolicLink(links.resolve("dangling"), Path.of("/nowhere/at/all"));
        Files.createSymbolicLink(links.resolve("long-target"), Path.of("x/".repeat(1500) + "end"));
        Files.writeString(root.resolve("n".repeat(255)), "longest name");
        Files.writeString(root.resolve("odd name with\nnewline\\back=slash\ttab"), "-");
        Files.writeString(root.resolve("-"), "dash");
        Path dev = Files.createDirectory(root.resolve("dev"));
        if (PRIVILEGED) {
            sh("mknod", dev.resolve("null").toString(), "c", "1", "3");
            sh("mknod", dev.resolve("loop-b").toString(), "b", "7", "200");
            sh("mknod", dev.resolve("whiteout").toString(), "c", "0", "0");
        }
        sh("mkfifo", dev.resolve("fifo").toString());
        try (var s = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(dev.resolve("sock")));
        }
        Path modes = Files.createDirectory(root.resolve("modes"));
        Path suid = Files.writeString(modes.resolve("suid"), "s");
        sh("chmod", "4755", suid.toString());
        Path none = Files.writeString(modes.resolve("none"), "n");
        if (PRIVILEGED) {
            sh("chmod", "0000", none.toString()); // only root could read it back
        }
        Path sticky = Files.createDirectory(modes.resolve("sticky"));
        sh("chmod", "1777", sticky.toString());
        Path sgid = Files.createDirectory(modes.resolve("sgid"));
        sh("chmod", "2750", sgid.toString());
        if (PRIVILEGED) {
            Files.setAttribute(suid, "unix:uid", 12345, NOFOLLOW);
            Files.setAttribute(suid, "unix:gid", 54321, NOFOLLOW);
            Files.setAttribute(none, "unix:uid", -2, NOFOLLOW); // 4294967294
            Files.setAttribute(links.resolve("rel"), "unix:uid", 777, NOFOLLOW);
        }
        Path x = Files.writeString(root.resolve("xattrs"), "attributes");
        sh("setfattr", "-n", "user.plain", "-v", "value", x.toString());
        sh("setfattr", "-n", "user.binary", "-v", "0x00ff3d0a20", x.toString());
        sh("setfattr", "-n", "user.empty", x.toString());
        if (PRIVILEGED) {
            sh("setfattr", "-n", "trusted.secret", "-v", "t", x.toString());
            sh("setfattr", "-n", "trusted.overlay.custom", "-v", "escaped-in-image", x.toString());
            sh("setfattr", "-n", "security.composefs-test", "-v", "sec", x.toString());
            sh("setfattr", "-h", "-n", "trusted.on-symlink", "-v", "l", links.resolve("rel").toString());
        }
        sh("setfattr", "-n", "user.on-dir", "-v", "d", modes.toString());
        sh("setfattr", "-n", "user.root", "-v", "r", root.toString());
        // What distribution trees carry beyond user xattrs: a file capability (ping's cap_net_raw,
        // VFS_CAP_REVISION_2), and POSIX ACLs, an access and a default one, in the kernel's xattr form.
        Path caps = Files.writeString(root.resolve("caps"), "capable");
        if (PRIVILEGED) {
            sh("setfattr", "-n", "security.capability", "-v", "0x0100000200200000000000000000000000000000", caps.toString());
        }
        Path acl = Files.createDirectory(root.resolve("acl"));
        Files.writeString(acl.resolve("inside"), "i");
        sh("setfattr", "-n", "system.posix_acl_access", "-v", "0x0200000001000700ffffffff02000500feff0000"
                + "04000500ffffffff10000500ffffffff20000500ffffffff", acl.toString());
        sh("setfattr", "-n", "system.posix_acl_default", "-v", "0x0200000001000700ffffffff04000500ffffffff"
                + "20000500ffffffff", acl.toString());
        // fixed mtimes (with nanoseconds), children before their directories
        List<Path> all;
        try (var w = Files.walk(root)) {
            all = new ArrayList<>(w.toList());
        }
        for (int i = all.size() - 1; i >= 0; i--) {
            Path p = all.get(i);
            // touch(1) sets times with utimensat: java.nio would open the fifo and block
            sh("touch", "-h", "-m", "-d", "@" + (MTIME + i) + "." + String.format("%09d", i * 1_000_003L % 1_000_000_000L),
                    p.toString());
        }
    }

    /**
     * Which of mkcomposefs' scan flags the expected dump reflects; {@code descriptor}: the dump of
     * a kernel-driver descriptor (--format=descriptor), which inlines nothing, shows nlink only
     * for regular files and has no overlayfs whiteout marks.
     */
    record Flags(boolean useEpoch, boolean skipDevices, boolean skipXattrs, boolean userXattrs, boolean hardlinks,
            boolean version0, boolean descriptor) {
        static final Flags NONE = new Flags(false, false, false, false, false, false, false);
    }

    /** The dump our composefs-info prints for the image of root, directory sizes left as "-". */
    static String expectedDump(Path root, Flags flags) throws Exception {
        TreeMap<String, Path> byPath = new TreeMap<>(); // Latin-1 paths: String order is strcmp order
        try (var w = Files.walk(root)) {
            for (Path p : w.toList()) {
                String rel = root.relativize(p).toString();
                byPath.put(rel.isEmpty() ? "/" : "/" + rel, p);
            }
        }
        Map<String, String> digests = digests(byPath.values());
        Map<Object, String> firstName = new HashMap<>();
        Map<Object, Integer> names = new HashMap<>();
        List<String> paths = new ArrayList<>();
        for (String path : dfsOrder(byPath)) {
            if (!(flags.skipDevices() && isDevice(byPath.get(path)))) {
                paths.add(path);
            }
        }
        for (String path : paths) {
            Path p = byPath.get(path);
            if (flags.hardlinks() && !Files.isDirectory(p, NOFOLLOW)) {
                Object key = Files.getAttribute(p, "unix:ino", NOFOLLOW);
                firstName.putIfAbsent(key, path);
                names.merge(key, 1, Integer::sum);
            }
        }
        // What each inode stores as xattrs, and how many inodes store each (name, value) pair: an
        // image shares a pair stored by more than one inode, and upstream prints an inode's own
        // (inline) xattrs first, then its shared ones, each group in name order.
        Map<String, TreeMap<String, byte[]>> stored = new HashMap<>();
        Map<String, Integer> pairUses = new HashMap<>();
        for (String path : paths) {
            Path p = byPath.get(path);
            Object ino = Files.getAttribute(p, "unix:ino", NOFOLLOW);
            if (flags.hardlinks() && !Files.isDirectory(p, NOFOLLOW) && !firstName.get(ino).equals(path)) {
                continue; // one inode, counted once
            }
            TreeMap<String, byte[]> xattrs = flags.skipXattrs() ? new TreeMap<>() : xattrs(p);
            xattrs.keySet().removeIf(k -> flags.userXattrs() && !k.startsWith("user."));
            if (Files.isDirectory(p, NOFOLLOW) && !flags.version0() && !flags.descriptor() && !flags.skipDevices()
                    && holdsWhiteout(p)) {
                // A version 1 image marks a directory holding whiteouts as opaque=x ("xwhiteouts"),
                // and upstream's reader shows the mark; the same dump builds the same image again.
                xattrs.put("trusted.overlay.opaque", new byte[] {'x'});
                xattrs.put("user.overlay.opaque", new byte[] {'x'});
            }
            stored.put(path, xattrs);
            for (var x : xattrs.entrySet()) {
                pairUses.merge(x.getKey() + "=" + new String(x.getValue(), StandardCharsets.ISO_8859_1), 1, Integer::sum);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String path : paths) {
            Path p = byPath.get(path);
            Map<String, Object> a = Files.readAttributes(p, "unix:*", NOFOLLOW);
            int mode = (Integer) a.get("mode");
            int type = mode & 0170000;
            Object ino = a.get("ino");
            boolean isLink = flags.hardlinks() && type != 0040000 && !firstName.get(ino).equals(path);
            int nlink = type == 0040000 ? 2 + subdirs(p)
                    : flags.hardlinks() && (type == 0100000 || !flags.descriptor()) ? names.get(ino) : 1;
            long size = type == 0100000 ? (Long) a.get("size")
                    : type == 0120000 ? Files.readSymbolicLink(p).toString().length() : 0;
            Instant mtime = ((FileTime) a.get("lastModifiedTime")).toInstant();
            long rdev = type == 0020000 || type == 0060000 ? (Long) a.get("rdev") : 0;
            out.writeBytes(Escaping.escape(path, Escaping.STANDARD));
            text(out, " " + (type == 0040000 ? "-" : size) + " " + (isLink ? "@" : "") + Integer.toOctalString(mode)
                    + " " + nlink + " " + Integer.toUnsignedString((Integer) a.get("uid")) + " "
                    + Integer.toUnsignedString((Integer) a.get("gid")) + " " + rdev + " "
                    + (flags.useEpoch() ? "0.0" : mtime.getEpochSecond() + "." + mtime.getNano()) + " ");
            // a hardlink line names the path holding the inode, then shows that inode's fields
            String inode = isLink ? firstName.get(ino) : path;
            if (isLink) {
                out.writeBytes(Escaping.escape(inode, Escaping.ESCAPE_LONE_DASH));
                text(out, " ");
            }
            if (type == 0120000) {
                if (!isLink) {
                    out.writeBytes(Escaping.escape(Files.readSymbolicLink(p).toString(), Escaping.ESCAPE_LONE_DASH));
                    text(out, " ");
                }
                text(out, "- -");
            } else if (type == 0100000 && size > (flags.descriptor() ? 0 : 64)) {
                String d = digests.get(p.toString());
                text(out, (isLink ? "" : d.substring(0, 2) + "/" + d.substring(2) + " ") + "- " + d);
            } else if (type == 0100000 && size > 0) {
                text(out, isLink ? "" : "- ");
                out.writeBytes(Escaping.escape(new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1),
                        Escaping.ESCAPE_LONE_DASH));
                text(out, " -");
            } else {
                text(out, isLink ? "- -" : "- - -");
            }
            TreeMap<String, byte[]> xattrs = stored.get(inode);
            // a descriptor holds xattrs sorted by name only; an image puts the shared ones last
            for (boolean shared : flags.descriptor() ? new boolean[] {false} : new boolean[] {false, true}) {
                for (var x : xattrs.entrySet()) {
                    String pair = x.getKey() + "=" + new String(x.getValue(), StandardCharsets.ISO_8859_1);
                    if (!flags.descriptor() && (pairUses.get(pair) > 1) != shared) {
                        continue;
                    }
                    text(out, " ");
                    out.writeBytes(Escaping.escape(x.getKey(), Escaping.ESCAPE_EQUAL));
                    text(out, "=");
                    out.writeBytes(Escaping.escape(new String(x.getValue(), StandardCharsets.ISO_8859_1),
                            Escaping.ESCAPE_EQUAL));
                }
            }
            text(out, "\n");
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    /** Replaces the size field of directory lines with "-": it is EROFS layout, not tree content. */
    static String withoutDirectorySizes(String dump) {
        StringBuilder sb = new StringBuilder();
        for (String line : dump.split("\n", -1)) {
            String[] f = line.split(" ", -1);
            if (f.length > 2 && f[2].startsWith("4") && f[2].length() == 5) {
                f[1] = "-";
            }
            sb.append(String.join(" ", f)).append('\n');
        }
        return sb.substring(0, sb.length() - 1);
    }

    private static List<String> dfsOrder(TreeMap<String, Path> byPath) {
        // depth-first with children in strcmp order of their names: "/a/b" before "/a-c"
        List<String> out = new ArrayList<>(byPath.keySet());
        out.sort((x, y) -> Arrays.compare(x.equals("/") ? new String[0] : x.substring(1).split("/"),
                y.equals("/") ? new String[0] : y.substring(1).split("/")));
        return out;
    }

    private static boolean isDevice(Path p) throws IOException {
        int type = (Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW) & 0170000;
        return type == 0020000 || type == 0060000;
    }

    private static boolean holdsWhiteout(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            for (Path c : s.toList()) {
                int mode = (Integer) Files.getAttribute(c, "unix:mode", NOFOLLOW);
                if ((mode & 0170000) == 0020000 && (Long) Files.getAttribute(c, "unix:rdev", NOFOLLOW) == 0) {
                    return true;
                }
            }
        }
        return false;
    }

    private static int subdirs(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return (int) s.filter(c -> Files.isDirectory(c, NOFOLLOW)).count();
        }
    }

    /** fs-verity digests of every non-empty regular file, from fsverity-utils in one run. */
    private static Map<String, String> digests(Iterable<Path> paths) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("fsverity", "digest"));
        List<String> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isRegularFile(p, NOFOLLOW) && Files.size(p) > 0) {
                files.add(p.toString());
            }
        }
        // --compact prints one digest per file in argument order: names with any bytes map back by position
        cmd.add(2, "--compact");
        cmd.addAll(files);
        Map<String, String> out = new HashMap<>();
        String[] lines = files.isEmpty() ? new String[0] : sh(cmd.toArray(String[]::new)).split("\n");
        if (lines.length != files.size()) {
            throw new AssertionError("fsverity digest gave " + lines.length + " digests for " + files.size() + " files");
        }
        for (int i = 0; i < lines.length; i++) {
            out.put(files.get(i), lines[i].trim());
        }
        return out;
    }

    /** All xattrs of p (not following symlinks), by getfattr(1), sorted by name. */
    static TreeMap<String, byte[]> xattrs(Path p) throws Exception {
        TreeMap<String, byte[]> out = new TreeMap<>();
        String dump = sh("getfattr", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", p.toString());
        for (String line : dump.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                out.put(line, new byte[0]);
                continue;
            }
            String v = line.substring(eq + 1);
            out.put(line.substring(0, eq), v.equals("\"\"") ? new byte[0] : HexFormat.of().parseHex(v.substring(2)));
        }
        return out;
    }

    private static void text(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    static String sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        if (p.waitFor() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }
}
