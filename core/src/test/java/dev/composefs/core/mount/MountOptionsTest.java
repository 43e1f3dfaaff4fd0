package dev.composefs.core.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.bindings.sys_mount_h;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MountOptionsTest {
    @Test
    void parsesUpstreamOptionsWithBackslashEscapes() throws Exception {
        MountOptions o = MountOptions.parse("basedir=/a\\,b:/c,ro,upperdir=/u,workdir=/w\\=x,tryverity");
        assertEquals(List.of(Path.of("/a,b"), Path.of("/c")), o.basedirs());
        assertTrue(o.readOnly());
        assertTrue(o.tryVerity());
        assertFalse(o.requireVerity());
        assertEquals(Path.of("/u"), o.upperdir());
        assertEquals(Path.of("/w=x"), o.workdir());
        assertNull(o.digest());
    }

    @Test
    void digestImpliesVerityUnlessTryverity() throws Exception {
        String hex = "ab".repeat(32);
        assertTrue(MountOptions.parse("basedir=/s,digest=" + hex).requireVerity());
        assertFalse(MountOptions.parse("basedir=/s,digest=" + hex + ",tryverity").requireVerity());
        assertEquals(32, MountOptions.parse("basedir=/s,digest=" + hex).digest().length);
    }

    @Test
    void mount8PassesGenericAndUserspaceOptions() throws Exception {
        MountOptions o = MountOptions.parse("rw,nosuid,nodev,noexec,noatime,basedir=/s,nofail,_netdev,x-systemd.after=y,defaults");
        assertFalse(o.readOnly());
        assertEquals(sys_mount_h.MOUNT_ATTR_NOSUID | sys_mount_h.MOUNT_ATTR_NODEV | sys_mount_h.MOUNT_ATTR_NOEXEC
                | sys_mount_h.MOUNT_ATTR_NOATIME, o.mountAttrs());
    }

    @Test
    void aLaterBasedirReplacesAnEarlierOneAsUpstreamsHelperDoes() throws Exception {
        // mount(8) passes fstab's options first and the command line's after them
        assertEquals(List.of(Path.of("/c")), MountOptions.parse("basedir=/a:/b,ro,basedir=/c").basedirs());
        assertEquals(List.of(Path.of("/b"), Path.of("/d")),
                MountOptions.parse(List.of("basedir=/a", "basedir=/b:/d"), MountOptions.UnknownOption.REFUSE).basedirs());
    }

    @Test
    void idMappings() throws Exception {
        MountOptions o = MountOptions.parse("basedir=/s,uidmap=0:100000:65536/70000:0:1");
        assertEquals(List.of(new MountOptions.IdMapping(0, 100000, 65536), new MountOptions.IdMapping(70000, 0, 1)),
                o.uidmap());
        assertEquals(o.uidmap(), o.gidmap(), "gidmap defaults to uidmap");
    }

    @Test
    void refusalsNameTheOption() {
        for (String[] c : new String[][] {
            {"basedir=/s,bogus", "unsupported option 'bogus'"},
            {"ro", "basedir=PATH"},
            {"basedir=/s,digest=12", "digest=12"},
            {"basedir=/s,verity=1", "'verity' takes no value"},
            {"basedir=", "'basedir' needs a value"},
            {"basedir=/s,upperdir=/u", "upperdir= and workdir= go together"},
            {"basedir=/s,uidmap=1:2", "uidmap=1:2"},
            {"basedir=/s,uidmap=0:4294967295:2", "below 2^32"},
            {"basedir=/s,gidmap=0:1:1", "gidmap= needs uidmap="},
            {"basedir=/s,idmap=/proc/1/ns/user,uidmap=0:1:1", "exclude each other"},
        }) {
            MountException e = assertThrows(MountException.class, () -> MountOptions.parse(c[0]), c[0]);
            assertTrue(e.isUsage(), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
        }
    }

    @Test
    void sloppyParsingReportsUnknownOptions() throws Exception {
        List<String> seen = new ArrayList<>();
        MountOptions.parse("basedir=/s,weird,other=1", seen::add);
        assertEquals(List.of("weird", "other"), seen);
    }

    @Test
    void probeDerivesFeaturesFromTheRelease() {
        KernelProbe old = KernelProbe.of("6.1.0-27-amd64", Set.of("erofs", "overlay"));
        assertFalse(old.dataOnlyLayers());
        assertFalse(old.erofsFileBacked());
        KernelProbe bpo = KernelProbe.of("6.12.9+bpo-amd64", Set.of("erofs", "overlay", "composefs"));
        assertTrue(bpo.dataOnlyLayers() && bpo.overlayVerity() && bpo.layerAppendKeys() && bpo.erofsFileBacked());
        assertTrue(bpo.composefsDriver());
        assertTrue(KernelProbe.of("6.6.1", Set.of()).overlayVerity());
        assertFalse(KernelProbe.of("6.5.0", Set.of()).overlayVerity());
    }

    @Test
    void legacyOptionStringEscapesSeparators() {
        assertEquals("/a\\,b\\:c\\\\d", OverlayMount.escape("/a,b:c\\d"));
    }
}
