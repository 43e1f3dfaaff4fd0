package dev.composefs.core.erofs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.dumpfile.DumpReader;
import dev.composefs.core.dumpfile.DumpWriter;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Limits;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.TreeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Trees at the sizes real systems have and past them: directories whose entries need many
 * times the writer's 256 KiB window (30k and 100k entries, names up to 255 bytes), every byte
 * 1..255 except '/' in names, thousands of levels. Each dump is written here line by line,
 * independently of DumpWriter, in the canonical form composefs-info dump prints; the image
 * built from it must dump back to exactly that text (directory sizes aside: the writer
 * computes them, the mount tests check them against the kernel), be identical streamed and in
 * memory, and be rebuilt byte-identical from its own tree.
 */
class ScaleTest {
    /** A root holding two directories: nlink 2 + 2. */
    private static final String ROOT = "/ 4096 40755 4 0 0 0 0.0 - - -\n";

    /** A regular file with 3 bytes of inline content, in dump form. */
    private static String file(String path) {
        return path + " 3 100644 1 0 0 0 0.0 - abc -\n";
    }

    private static String dir(String path, int nlink) {
        return path + " 4096 40755 " + nlink + " 0 0 0 0.0 - - -\n";
    }

    @Test
    void directoryOf30kEntriesWithLongNames() throws IOException {
        StringBuilder d = new StringBuilder(ROOT).append(dir("/d", 2));
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 30_000; i++) {
            // lengths cycle through 1..255 bytes: the longest names fill a dirent block alone
            int len = 1 + i % 255;
            String n = String.format("%06d", i);
            names.add(len <= 6 ? n.substring(6 - len) + "-" + i : n + "x".repeat(len - 6));
        }
        names.sort(null);
        names = names.stream().distinct().toList();
        for (String n : names) {
            d.append(file("/d/" + n));
        }
        d.append(dir("/e", 2));
        roundTrip(d.toString());
    }

    @Test
    void directoryOf100kEntries() throws IOException {
        StringBuilder d = new StringBuilder(ROOT).append(dir("/d", 2));
        for (int i = 0; i < 100_000; i++) {
            d.append(file(String.format("/d/entry-with-a-fairly-long-name-%07d", i)));
        }
        d.append(dir("/z", 2));
        roundTrip(d.toString());
    }

    /** Every byte but NUL and '/' in names, escaped as composefs-info escapes them. */
    @Test
    void everyByteInNames() throws IOException {
        List<String> names = new ArrayList<>();
        for (int b = 1; b < 256; b++) {
            if (b != '/' && b != '.') {
                names.add(String.valueOf((char) b));
            }
            if (b != '/') {
                names.add("name" + (char) b + "end");
            }
        }
        names.add("...");
        names.add(".a");
        names.sort(null); // Latin-1 strings: compareTo is strcmp on the bytes
        StringBuilder d = new StringBuilder("/ 4096 40755 2 0 0 0 0.0 - - -\n");
        for (String n : names) {
            d.append(file(escape("/" + n)));
        }
        roundTrip(d.toString());
    }

    /**
     * The writer lays a tree out recursively, as the launchers run it: on a thread with a 512 MiB
     * stack (Main). Deep trees here get such a thread too.
     */
    private static void onLargeStack(IoAction action) throws Exception {
        Throwable[] failure = new Throwable[1];
        Thread t = new Thread(null, () -> {
            try {
                action.run();
            } catch (Throwable e) {
                failure[0] = e;
            }
        }, "large-stack", 512L << 20);
        t.start();
        t.join();
        if (failure[0] instanceof Exception e) {
            throw e;
        }
        if (failure[0] instanceof Error e) {
            throw e;
        }
    }

    private interface IoAction {
        void run() throws Exception;
    }

    @Test
    void thousandsOfLevels() throws Exception {
        onLargeStack(ScaleTest::levels);
    }

    /** 2500 levels with a file on each: a dump of 12 MB of paths (they grow with depth). */
    private static void levels() throws IOException {
        StringBuilder d = new StringBuilder(ROOT);
        StringBuilder p = new StringBuilder();
        for (int i = 0; i < 2500; i++) {
            p.append("/n");
            d.append(dir(p.toString(), i == 2499 ? 2 : 3));
            d.append(file(p + "/f"));
        }
        d.append(dir("/x", 2));
        roundTrip(d.toString());
    }

    /** The writer and the reader share one depth limit: what is written can be read back. */
    @Test
    void writerAndReaderShareTheDepthLimit() throws Exception {
        onLargeStack(ScaleTest::depthLimit);
    }

    private static void depthLimit() throws IOException {
        byte[] image = ErofsWriter.write(chain(Limits.MAX_DEPTH), ErofsWriter.Options.DEFAULT).bytes();
        int levels = 0;
        for (Directory d = ErofsReader.read(image); d.entries().get("n") instanceof Directory c; d = c) {
            levels++;
        }
        assertEquals(Limits.MAX_DEPTH, levels, "the deepest writable tree reads back whole");
        TreeException e = assertThrows(TreeException.class,
                () -> ErofsWriter.write(chain(Limits.MAX_DEPTH + 1), ErofsWriter.Options.DEFAULT));
        assertTrue(e.getMessage().contains("nested deeper than " + Limits.MAX_DEPTH), e.getMessage());
        assertTrue(e.getMessage().length() < 400, "the message cuts the path: " + e.getMessage().length());
    }

    private static Directory chain(int levels) {
        Directory root = new Directory(new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 2, null));
        Directory d = root;
        for (int i = 0; i < levels; i++) {
            Directory c = new Directory(new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 2, null));
            d.entries().put("n", c);
            d = c;
        }
        return root;
    }

    private static void roundTrip(String dump) throws IOException {
        Directory tree = DumpReader.parse(dump.getBytes(StandardCharsets.ISO_8859_1), true);
        byte[] image = ErofsWriter.write(tree, ErofsWriter.Options.DEFAULT).bytes();
        ByteArrayOutputStream streamed = new ByteArrayOutputStream();
        ErofsWriter.write(tree, ErofsWriter.Options.DEFAULT, streamed);
        assertArrayEquals(image, streamed.toByteArray(), "streamed image == image built in memory");

        Directory back = ErofsReader.read(image);
        assertEquals(withoutDirectorySizes(dump), withoutDirectorySizes(dump(back)),
                "the image dumps as the independently written dump");
        assertArrayEquals(image, ErofsWriter.write(back, ErofsWriter.Options.DEFAULT).bytes(),
                "the image's own tree rebuilds it byte for byte");
    }

    private static String dump(Directory root) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DumpWriter.write(root, out, d -> ErofsWriter.directorySize(d, d == root));
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    /** Directory lines with their size field blanked: EROFS decides a directory's size. */
    private static String withoutDirectorySizes(String dump) {
        StringBuilder out = new StringBuilder(dump.length());
        for (String line : dump.split("\n", -1)) {
            String[] f = line.split(" ", 4);
            if (f.length == 4 && f[2].startsWith("4")) {
                out.append(f[0]).append(" - ").append(f[2]).append(' ').append(f[3]);
            } else {
                out.append(line);
            }
            out.append('\n');
        }
        return out.toString();
    }

    /** composefs-dump(5) path escaping, written out here rather than taken from the project. */
    private static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '\\') {
                sb.append("\\\\");
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c <= 0x20 || c >= 0x7f) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
