package dev.composefs.core.repository;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.fsverity.FsVerity;
import dev.composefs.core.tree.Directory;
import dev.composefs.core.tree.Meta;
import dev.composefs.core.tree.RegularFile;
import dev.composefs.core.tree.Xattrs;
import dev.composefs.core.util.Progress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** store gc (what no image names goes, nothing else) and fsck (content against names), on a store made here. */
class StoreMaintenanceTest {
    @TempDir
    Path tmp;

    private static byte[] content(String s) {
        return s.repeat(500).getBytes(StandardCharsets.US_ASCII);
    }

    /** An image whose files are the objects with these digests. */
    private static Directory image(byte[]... digests) {
        Meta dirMeta = new Meta(Meta.S_IFDIR | 0755, 0, 0, 0, 0, 2, new Xattrs());
        Directory root = new Directory(dirMeta);
        int i = 0;
        for (byte[] d : digests) {
            root.entries().put("f" + i++, RegularFile.stored(new Meta(Meta.S_IFREG | 0644, 0, 0, 0, 0, 1, new Xattrs()),
                    500, null, d));
        }
        return root;
    }

    @Test
    void gcRemovesWhatNoImageNamesAndADryRunRemovesNothing() throws Exception {
        byte[] a = content("a");
        byte[] b = content("b");
        byte[] c = content("c");
        List<String> warnings = new ArrayList<>();
        try (ObjectStore store = ObjectStore.open(tmp.resolve("store"), true, ObjectStore.Lock.EXCLUSIVE, warnings::add)) {
            for (byte[] x : List.of(a, b, c)) {
                assertTrue(store.put(new ObjectStore.FromBytes(x, FsVerity.of(x)), "test").added());
            }
            String unused = ObjectStore.objectPath(FsVerity.of(c));
            List<String> log = new ArrayList<>();
            StoreMaintenance.GcReport dry = StoreMaintenance.gc(store, List.of(image(FsVerity.of(a), FsVerity.of(b))),
                    Set.of(), true, Progress.none(), log::add);
            assertEquals(List.of(unused), dry.removed());
            assertEquals(500, dry.bytesFreed());
            assertTrue(store.contains(FsVerity.of(c)), "a dry run removes nothing");
            assertEquals(List.of("would remove " + unused + " (500 bytes)"), log);
            StoreMaintenance.GcReport gc = StoreMaintenance.gc(store, List.of(image(FsVerity.of(a), FsVerity.of(b))),
                    Set.of(), false, Progress.none(), s -> { });
            assertEquals(List.of(unused), gc.removed());
            assertEquals(2, gc.kept());
            assertTrue(!store.contains(FsVerity.of(c)) && store.contains(FsVerity.of(a)) && store.contains(FsVerity.of(b)));
            // with no image, everything goes
            assertEquals(2, StoreMaintenance.gc(store, List.of(), Set.of(), false, Progress.none(), s -> { }).removed().size());
        }
    }

    @Test
    void fsckFindsAnObjectWhoseContentIsNotItsName() throws Exception {
        byte[] a = content("a");
        byte[] b = content("b");
        try (ObjectStore store = ObjectStore.open(tmp.resolve("store"), true, ObjectStore.Lock.EXCLUSIVE, s -> { })) {
            store.put(new ObjectStore.FromBytes(a, FsVerity.of(a)), "a");
            store.put(new ObjectStore.FromBytes(b, FsVerity.of(b)), "b");
            StoreMaintenance.FsckReport clean = StoreMaintenance.fsck(store, 2, false, Progress.none(), s -> { });
            assertEquals(2, clean.objects());
            assertEquals(1000, clean.bytes());
            assertEquals(List.of(), clean.problems());
            // b's object changed in place (where the file system has no fs-verity to stop it)
            String bPath = ObjectStore.objectPath(FsVerity.of(b));
            Path object = tmp.resolve("store").resolve(bPath);
            Files.setPosixFilePermissions(object, PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.write(object, content("x"));
            } catch (FileSystemException sealed) {
                Assumptions.abort("the store's file system sealed the object with fs-verity: it cannot change in place");
            }
            StoreMaintenance.FsckReport found = StoreMaintenance.fsck(store, 2, false, Progress.none(), s -> { });
            assertEquals(1, found.problems().size(), found.problems().toString());
            assertTrue(found.problems().get(0).startsWith(bPath + ": content does not match its name (fs-verity digest is "
                    + FsVerity.hex(FsVerity.of(content("x")))), found.problems().get(0));
            assertTrue(Files.exists(object), "fsck reports, never deletes");
        }
    }
}
