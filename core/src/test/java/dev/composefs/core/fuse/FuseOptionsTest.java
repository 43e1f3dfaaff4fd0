package dev.composefs.core.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.composefs.core.mount.MountException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FuseOptionsTest {
    @Test
    void upstreamsOptions() throws Exception {
        FuseService.Options o = FuseService.Options.parse("source=/i\\,mg.cfs,basedir=/a:/b,noacl,verity");
        assertEquals(Path.of("/i,mg.cfs"), o.image());
        assertEquals(List.of(Path.of("/a"), Path.of("/b")), o.basedirs());
        assertTrue(o.verity());
        assertFalse(o.acl());
        assertFalse(o.allowOther());
        assertTrue(o.passthrough());
        assertTrue(FuseService.Options.parse("source=x,basedir=s,digest=" + "ab".repeat(32)).verity(), "digest= implies verity");
        assertFalse(FuseService.Options.parse("source=x,basedir=s,digest=" + "ab".repeat(32) + ",tryverity").verity());
        assertFalse(FuseService.Options.parse("source=x,basedir=s,nopassthrough").passthrough());
        assertTrue(FuseService.Options.parse("source=x,basedir=s,allow_other").allowOther());
    }

    @Test
    void refusalsNameTheOption() {
        assertEquals("no image given: source=IMAGE is required",
                assertThrows(MountException.class, () -> FuseService.Options.parse("basedir=s")).getMessage());
        assertEquals("option 'source' needs a value",
                assertThrows(MountException.class, () -> FuseService.Options.parse("source=,basedir=s")).getMessage());
        assertTrue(assertThrows(MountException.class, () -> FuseService.Options.parse("source=x,basedir=s,upperdir=u,workdir=w"))
                .getMessage().contains("not available with FUSE"));
        assertTrue(assertThrows(MountException.class, () -> FuseService.Options.parse("source=x"))
                .getMessage().contains("basedir="));
        assertTrue(assertThrows(MountException.class, () -> FuseService.Options.parse("source=x,basedir=s,bogus"))
                .getMessage().contains("'bogus'"));
    }

    /** What mount.composefs hands composefs-fuse: the image escaped so that its commas stay in it. */
    @Test
    void withSourceEscapesTheImagePath() throws Exception {
        String opts = FuseService.Options.withSource(Path.of("/x,y\\z.cfs"), "basedir=/s,fuse");
        assertEquals(Path.of("/x,y\\z.cfs"), FuseService.Options.parse(opts).image());
    }
}
