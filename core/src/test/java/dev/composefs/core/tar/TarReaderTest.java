package dev.composefs.core.tar;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TarReader against archives written by GNU tar in its three formats (gnu, ustar, pax), with
 * the members made here: long names, huge owners, binary xattrs, names that are not UTF-8,
 * every member type; and damaged archives refused with a message.
 */
class TarReaderTest {
    @TempDir
    Path tmp;

    private static final String LONG = "d".repeat(120) + "/" + "e".repeat(120) + "/" + "f".repeat(200);

    private Path tree() throws Exception {
        Path t = Files.createDirectories(tmp.resolve("t"));
        Files.createDirectories(t.resolve("d".repeat(120)).resolve("e".repeat(120)));
        Files.writeString(t.resolve(LONG), "long\n");
        Files.writeString(t.resolve("file"), "x".repeat(1000));
        Files.createLink(t.resolve("hard"), t.resolve("file"));
        Files.createSymbolicLink(t.resolve("sym"), Path.of("g".repeat(150)));
        sh("mkfifo " + t.resolve("fifo"));
        return t;
    }

    private static void sh(String cmd) throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), cmd + ": " + out);
    }

    private Path tar(Path dir, String format, String... extra) throws Exception {
        Path out = tmp.resolve(format + ".tar");
        sh("cd " + dir + " && tar --format=" + format + " --owner=x:3000000000 --group=y:7 "
                + String.join(" ", extra) + " -cf " + out + " *");
        return out;
    }

    private static Map<String, TarEntry> read(Path archive, Map<String, byte[]> contents) throws IOException {
        Map<String, TarEntry> out = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(archive)) {
            TarReader r = new TarReader(in, archive.toString());
            for (TarEntry e; (e = r.next()) != null; ) {
                out.put(e.name().replaceFirst("/$", ""), e);
                if (contents != null) {
                    contents.put(e.name(), r.content().readAllBytes());
                }
            }
        }
        return out;
    }

    @Test
    void gnuAndPaxFormatsWithLongNamesAndHugeOwners() throws Exception {
        Path t = tree();
        for (String format : List.of("gnu", "pax")) {
            Map<String, byte[]> contents = new LinkedHashMap<>();
            Map<String, TarEntry> m = read(tar(t, format), contents);
            assertEquals(TarEntry.REGULAR, m.get(LONG).type(), format);
            assertEquals("long\n", new String(contents.get(LONG), StandardCharsets.UTF_8));
            assertEquals(3000000000L, m.get("file").uid(), format + ": base-256 (gnu) or a PAX uid record");
            assertEquals(7, m.get("file").gid());
            assertEquals(1000, m.get("file").size());
            assertEquals("x".repeat(1000), new String(contents.get("file"), StandardCharsets.UTF_8));
            assertEquals(TarEntry.HARDLINK, m.get("hard").type(), format);
            assertEquals("file", m.get("hard").linkName());
            assertEquals(TarEntry.SYMLINK, m.get("sym").type());
            assertEquals("g".repeat(150), m.get("sym").linkName(), format + ": long link target");
            assertEquals(TarEntry.FIFO, m.get("fifo").type());
            assertEquals(TarEntry.DIRECTORY, m.get("d".repeat(120)).type());
        }
    }

    @Test
    void ustarSplitsLongPathsIntoPrefixAndName() throws Exception {
        Path t = Files.createDirectories(tmp.resolve("u"));
        String name = "p".repeat(90) + "/" + "q".repeat(90);
        Files.createDirectories(t.resolve("p".repeat(90)));
        Files.writeString(t.resolve(name), "u");
        Path archive = tmp.resolve("u.tar");
        sh("cd " + t + " && tar --format=ustar -cf " + archive + " *");
        assertTrue(read(archive, null).containsKey(name));
    }

    @Test
    void paxKeepsBinaryXattrsNonUtf8NamesAndNanoseconds() throws Exception {
        Path t = Files.createDirectories(tmp.resolve("x"));
        String odd = new String(new byte[] {'n', (byte) 0xff, (byte) 0xe9}, StandardCharsets.ISO_8859_1);
        // a name that is not UTF-8 cannot pass through java.nio paths: the shell makes it
        sh("cd " + t + " && printf v > \"$(printf 'n\\377\\351')\" && echo data > f && setfattr -n user.bin -v 0x80ff00fe f"
                + " && touch -d @981173106.123456789 f");
        Path archive = tmp.resolve("x.tar");
        sh("cd " + t + " && tar --format=pax --xattrs --xattrs-include='user.*' -cf " + archive + " *");
        Map<String, TarEntry> m = read(archive, null);
        assertTrue(m.containsKey(odd), "raw name bytes: " + m.keySet());
        TarEntry f = m.get("f");
        assertArrayEquals(new byte[] {(byte) 0x80, (byte) 0xff, 0, (byte) 0xfe}, f.xattrs().get("user.bin"));
        assertEquals(123456789, f.mtimeNsec());
        assertEquals(981173106L, f.mtimeSec());
    }

    @Test
    void damagedArchivesAreRefused() throws Exception {
        Path t = tree();
        byte[] good = Files.readAllBytes(tar(t, "pax"));
        byte[] bad = good.clone();
        bad[10] ^= 1; // inside the first header's name: the checksum no longer matches
        IOException e = assertThrows(IOException.class, () -> drain(bad));
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        byte[] cut = java.util.Arrays.copyOf(good, 512 * 3 + 100);
        e = assertThrows(IOException.class, () -> drain(cut));
        assertTrue(e.getMessage().contains("ends inside") || e.getMessage().contains("truncated"), e.getMessage());
        e = assertThrows(IOException.class, () -> drain("not a tar archive at all".repeat(40).getBytes()));
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        // a text file: its "checksum field" holds no octal number; one line, none of the file's text
        byte[] text = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n".repeat(20)
                .getBytes(StandardCharsets.US_ASCII);
        e = assertThrows(IOException.class, () -> drain(text));
        assertEquals("test.tar: bad tar header checksum (not a tar archive, or corrupted)", e.getMessage());
    }

    @Test
    void aMemberNameInAnErrorIsEscapedAsInADump() throws Exception {
        Path t = Files.createDirectories(tmp.resolve("n"));
        sh("cd " + t + " && truncate -s 1M \"$(printf 'two\\nlines')\" && tar --sparse --format=gnu -cf ../n.tar .");
        IOException e = assertThrows(IOException.class, () -> drain(Files.readAllBytes(tmp.resolve("n.tar"))));
        assertTrue(e.getMessage().contains("two\\nlines") && !e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void sparseMembersAreRefusedByName() throws Exception {
        Path t = Files.createDirectories(tmp.resolve("s"));
        sh("truncate -s 1M " + t.resolve("holes") + " && printf x >> " + t.resolve("holes"));
        for (String format : List.of("gnu", "pax")) {
            Path archive = tmp.resolve("sparse-" + format + ".tar");
            sh("cd " + t + " && tar --sparse --format=" + format + " -cf " + archive + " holes");
            IOException e = assertThrows(IOException.class, () -> drain(Files.readAllBytes(archive)));
            assertTrue(e.getMessage().contains("holes") && e.getMessage().contains("sparse"), e.getMessage());
        }
    }

    @Test
    void anEmptyStreamAndTheEndMarkerEndIt() throws Exception {
        assertNull(new TarReader(new ByteArrayInputStream(new byte[0]), "empty").next());
        assertNull(new TarReader(new ByteArrayInputStream(new byte[1024]), "zeros").next());
    }

    private static void drain(byte[] archive) throws IOException {
        TarReader r = new TarReader(new ByteArrayInputStream(archive), "test.tar");
        List<String> names = new ArrayList<>();
        for (TarEntry e; (e = r.next()) != null; ) {
            names.add(e.name());
            r.content().readAllBytes();
        }
        throw new AssertionError("expected a failure, read " + names);
    }
}
