package dev.composefs.core.dumpfile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.tree.Device;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Hardlink;
import dev.composefs.core.tree.Node;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Symlink;
import dev.composefs.core.Assets;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DumpReaderTest {
    private static final String ROOT = "/ 4096 40755 2 0 0 0 1.0 - - -\n";

    private static Directory parse(String s, boolean strict) throws DumpFormatException {
        return DumpReader.parse(s.getBytes(StandardCharsets.ISO_8859_1), strict);
    }

    private static String message(String s, boolean strict) {
        return assertThrows(DumpFormatException.class, () -> parse(s, strict)).getMessage();
    }

    @Test
    void parsesEveryFieldAndEscape() throws Exception {
        String dump = ROOT
                + "/a\\x20b 4 100644 1 10 20 0 1633950376.5 - a\\n\\t\\\\ - user.k\\x3d=v\\x00 trusted.x=\n"
                + "/ext 100000 100600 2 0 0 0 1.0 ab/cdef - 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                + "/hl 0 @100600 0 0 0 0 0.0 /ext - -\n"
                + "/lnk 3 120777 1 0 0 0 1.0 a\\x2fb - -\n"
                + "/null 0 20666 1 0 0 259 1.0 - - -\n";
        Directory root = parse(dump, true);
        RegularFile f = (RegularFile) root.entries().get("a b");
        assertArrayEquals("a\n\t\\".getBytes(StandardCharsets.ISO_8859_1), f.content());
        assertEquals(10, f.meta().uid());
        assertEquals(5, f.meta().mtimeNsec());
        assertArrayEquals(new byte[] {'v', 0}, f.meta().xattrs().get("user.k="));
        assertArrayEquals(new byte[0], f.meta().xattrs().get("trusted.x"));
        RegularFile ext = (RegularFile) root.entries().get("ext");
        assertEquals("ab/cdef", ext.payload());
        assertEquals(0x01, ext.digest()[0]);
        assertSame(ext, ((Hardlink) root.entries().get("hl")).target());
        assertEquals("a/b", ((Symlink) root.entries().get("lnk")).target());
        assertEquals(259, ((Device) root.entries().get("null")).rdev());
    }

    @Test
    void writerEscapesWhatTheReaderUnescapes() throws Exception {
        String dump = ROOT + "/x\\x3d\\x20\\n 1 100644 1 0 0 0 1.0 - \\x2d - user.a\\x3db=\\xff\\x3d\n";
        Directory root = parse(dump, true);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DumpWriter.write(root, out, d -> 4096);
        String text = out.toString(StandardCharsets.ISO_8859_1);
        assertTrue(text.contains("/x=\\x20\\n 1 100644 1 0 0 0 1.0 - \\x2d - user.a\\x3db=\\xff\\x3d\n"), text);
        Directory again = parse(text, true);
        assertArrayEquals(new byte[] {'-'}, ((RegularFile) again.entries().get("x= \n")).content());
    }

    @Test
    void errorsNameTheLine() {
        assertEquals("line 2: parent of '/a/b' does not exist or is not a directory",
                message(ROOT + "/a/b 0 100644 1 0 0 0 1.0 - - -\n", true));
        assertTrue(message(ROOT + "/f 0 100644 1 0 0 0 1.0 - - - \\q=1\n", true).startsWith("line 2: xattr name:"));
        assertTrue(message(ROOT + "/f 0 100644 1 0 0 0 1.0 - - -\n/f 0 100644 1 0 0 0 1.0 - - -\n", true)
                .startsWith("line 3: duplicate entry"));
        assertTrue(message(ROOT + "/f zero 100644 1 0 0 0 1.0 - - -\n", true).startsWith("line 2: invalid size"));
        assertTrue(message(ROOT + "/f 3 100644 1 0 0 0 1.0 - ab -\n", true).contains("is 2 bytes but its size is 3"));
        assertTrue(message("/f 0 100644 1 0 0 0 1.0 - - -\n", true).contains("before the root"));
        assertTrue(message(ROOT + "/h 0 @100644 1 0 0 0 1.0 /nowhere - -\n", true).contains("does not exist"));
    }

    @Test
    void strictOnlyWhereUpstreamIsStrict() throws Exception {
        String noNewline = ROOT + "/f 0 100644 1 0 0 0 1.0 - - -";
        assertTrue(message(noNewline, true).contains("missing newline"));
        assertInstanceOf(RegularFile.class, parse(noNewline, false).entries().get("f"));

        String symlinkSize = ROOT + "/l 5 120777 1 0 0 0 1.0 target-of-9 - -\n";
        assertTrue(message(symlinkSize, true).contains("differs from its target's length"));
        assertEquals("target-of-9", ((Symlink) parse(symlinkSize, false).entries().get("l")).target());

        String rdev = ROOT + "/f 0 100644 1 0 0 7 1.0 - - -\n";
        assertTrue(message(rdev, true).contains("not a device"));
        assertNull(((RegularFile) parse(rdev, false).entries().get("f")).content());

        // a missing content field is empty content, as upstream reads it: only a size of 0 goes with it
        String missingFields = ROOT + "/l 1 120777 1 0 0 0 1.0 x\n";
        assertTrue(message(missingFields, false).contains("is 0 bytes but its size is 1"));
        assertNotNull(parse(ROOT + "/e 0 100644 1 0 0 0 1.0\n", true).entries().get("e"));
    }

    /** Where upstream's parser refuses or accepts, this one does too (UpstreamDifferentialTest runs upstream itself). */
    @Test
    void refusesAndAcceptsWhatUpstreamDoes() throws Exception {
        String file = "/f 0 100644 1 0 0 0 1.0 - - -\n";
        assertTrue(message(ROOT + "\n" + file, false).contains("line 2: empty line"));
        assertTrue(message(ROOT + "/f 0 100644 1 0 0 0 1.0 - - -\0\n", false).contains("raw NUL byte at column 30"));
        assertTrue(message(ROOT + file + "/h 0 @40755 1 0 0 0 0.0 /f - -\n", false).contains("directories can't be hardlinked"));
        // of a hardlink line, only path, mode and target are read
        Directory linked = parse(ROOT + file + "/h junk @100644 x y z w v /f - -\n", true);
        assertSame(((Hardlink) linked.entries().get("h")).target(), linked.entries().get("f"));
        String xattrs = " user.a=" + "a".repeat(30000) + " user.b=" + "b".repeat(30000) + " user.c=" + "c".repeat(5600);
        assertTrue(message(ROOT + "/f 0 100644 1 0 0 0 1.0 - - -" + xattrs + "\n", false).contains("too many xattrs"));
        // a value set twice is accounted as upstream does: the first one counts while it is set
        assertTrue(message(ROOT + "/f 0 100644 1 0 0 0 1.0 - - - user.a=" + "a".repeat(32760) + " user.a=1\n", false)
                .contains("xattrs too large"));
        assertEquals(1, parse(ROOT + "/f 0 100644 1 0 0 0 1.0 - - - user.a=" + "a".repeat(30000) + " user.a=1\n", false)
                .entries().get("f").meta().xattrs().get("user.a").length);
        String symlinkContent = ROOT + "/l 1 120777 1 0 0 0 1.0 x x -\n";
        assertTrue(message(symlinkContent, true).contains("has content"));
        assertEquals("x", ((Symlink) parse(symlinkContent, false).entries().get("l")).target());
        // (the image writer refuses sizes above what 1024 chunks hold, 2^53 bytes, as upstream's does)
        assertEquals(Long.MAX_VALUE, ((RegularFile) parse(ROOT + "/f 9223372036854775807 100644 1 0 0 0 1.0 ab/cd - -\n",
                false).entries().get("f")).size());
        assertTrue(message(ROOT + "/f 18446744073709551615 100644 1 0 0 0 1.0 ab/cd - -\n", false).contains("too big"));
        assertTrue(message(ROOT + "/f 10 100644 1 0 0 0 1.0 ab/cd -\n", false).contains("digest field"));
        assertTrue(message(ROOT + "/f 10 100644 1 0 0 0 1.0 ab/cd - \n", false).contains("digest field"));
        assertEquals(-1L, ((Device) parse(ROOT + "/d 0 20644 1 0 0 18446744073709551615 1.0 - - -\n", true)
                .entries().get("d")).rdev());
        assertTrue(message("", false).contains("empty dump"));
        // repeated slashes walk nowhere, in paths and in hardlink targets; a trailing one names nothing
        Directory slashes = parse(ROOT + "/a 0 40755 2 0 0 0 1.0 - - -\n/a//b 0 100644 1 0 0 0 1.0 - - -\n"
                + "//c 0 100644 1 0 0 0 1.0 - - -\n/h 0 @100644 1 0 0 0 0.0 //a//b/ - -\n"
                + "/i 0 @100644 1 0 0 0 0.0 /h// - -\n", true);
        Node b = ((Directory) slashes.entries().get("a")).entries().get("b");
        assertSame(b, ((Hardlink) slashes.entries().get("h")).target());
        assertSame(b, ((Hardlink) slashes.entries().get("i")).target());
        assertTrue(slashes.entries().containsKey("c"));
        assertTrue(message(ROOT + "/a/ 0 40755 2 0 0 0 1.0 - - -\n", false).contains("empty file name"));
        assertTrue(message(ROOT + "// 0 40755 2 0 0 0 1.0 - - -\n", false).contains("empty file name"));
    }

    /** What parsing gives, as text: the tree's dump, or the error message. */
    private interface Parse {
        Directory run() throws IOException;
    }

    private static String outcome(Parse p) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            DumpWriter.write(p.run(), out, d -> 4096);
            return out.toString(StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "error: " + e.getMessage();
        }
    }

    /** A stream that hands out its bytes a few at a time, as a pipe might. */
    private static InputStream trickle(byte[] data, Random rnd) {
        return new InputStream() {
            private int pos;

            @Override
            public int read() {
                return pos < data.length ? data[pos++] & 0xff : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (pos == data.length) {
                    return -1;
                }
                int n = Math.min(Math.min(len, 1 + rnd.nextInt(200)), data.length - pos);
                System.arraycopy(data, pos, b, off, n);
                pos += n;
                return n;
            }
        };
    }

    @Test
    void readingAStreamInPiecesGivesWhatParsingItWholeGives() throws Exception {
        List<String> names;
        try (var files = Files.list(Assets.dir())) {
            names = files.map(f -> f.getFileName().toString())
                    .filter(n -> n.contains(".dump") && !n.endsWith(".sha256") && !n.endsWith(".version")).sorted().toList();
        }
        assertTrue(names.size() > 20, "conformance dumps found: " + names);
        // and lines longer than the reader's 64 KiB window, valid (inline content and xattrs,
        // each within upstream's limits) and not
        byte[] longLine = (ROOT + "/a 5000 100644 1 0 0 0 1.0 - " + "\\xff".repeat(5000) + " - user.a="
                + "\\xff".repeat(12000) + "\n/b 0 100644 1 0 0 0 1.0 - - -\n").getBytes(StandardCharsets.ISO_8859_1);
        byte[] tooLong = (ROOT + "/a 5000 100644 1 0 0 0 1.0 - " + "\\xff".repeat(5000) + " - user.b=" + "v".repeat(20000)
                + " user.c=" + "w".repeat(20000) + "\n").getBytes(StandardCharsets.ISO_8859_1);
        Random rnd = new Random(42);
        for (boolean strict : new boolean[] {false, true}) {
            for (String name : names) {
                byte[] data = Assets.dump(name);
                String whole = outcome(() -> DumpReader.parse(data, strict));
                assertEquals(whole, outcome(() -> DumpReader.read(trickle(data, rnd), strict)), name + " strict=" + strict);
                assertEquals(whole, outcome(() -> DumpReader.read(new java.io.ByteArrayInputStream(data), strict)), name);
            }
            String whole = outcome(() -> DumpReader.parse(longLine, strict));
            assertTrue(whole.contains("user.a=") && whole.contains("/b "), whole);
            assertEquals(whole, outcome(() -> DumpReader.read(trickle(longLine, rnd), strict)));
            String error = outcome(() -> DumpReader.parse(tooLong, strict));
            assertTrue(error.startsWith("error: line 2: /a: xattrs too large"), error);
            assertEquals(error, outcome(() -> DumpReader.read(trickle(tooLong, rnd), strict)));
        }
    }
}
