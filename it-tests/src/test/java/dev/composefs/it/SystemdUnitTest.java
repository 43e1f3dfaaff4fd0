package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What composefs mount-unit and fstab-line write, against systemd's own tools on this machine:
 * unit names as systemd-escape makes them, units that systemd-analyze verify accepts, and fstab
 * lines that systemd-fstab-generator turns into the same mount with the stores required.
 */
class SystemdUnitTest {
    @TempDir
    static Path tmp;

    private static void assumeSystemdTools() {
        Infra.require(Files.isExecutable(Path.of("/usr/bin/systemd-escape")), "systemd is not installed");
    }

    @Test
    void unitNamesAsSystemdEscapeMakesThem() throws Exception {
        assumeSystemdTools();
        for (String where : List.of("/srv/app", "/srv/my-app", "/var/lib/cfs/images/a.b", "/mnt/with space",
                "/mnt/ümlaut", "/mnt/.hidden", "/x//y/", "/")) {
            String expected = Cli.run("/usr/bin/systemd-escape", "-p", "--suffix=mount", where).out().strip();
            Path dir = Files.createDirectories(tmp.resolve("units-" + Math.abs(where.hashCode())));
            Cli.Result r = Cli.run("composefs", "mount-unit", "--options=basedir=/store", "/images/a.cfs", where,
                    "--install=" + dir);
            assertEquals(0, r.exit(), where + ": " + r.stderr());
            assertEquals(dir.resolve(expected) + "\n", r.out(), where);
        }
    }

    @Test
    void systemdAnalyzeVerifiesTheUnit() throws Exception {
        Infra.require(Files.isExecutable(Path.of("/usr/bin/systemd-analyze")), "systemd-analyze is not installed");
        Cli.Result r = Cli.run("composefs", "mount-unit", "--options=basedir=/var/lib/cfs/objects:/srv/other store,"
                + "digest=" + "ab".repeat(32), "--wanted-by=multi-user.target", "/var/lib/cfs/images/app.cfs",
                "/srv/my-app", "--install=" + tmp);
        assertEquals(0, r.exit(), r.stderr());
        Path unit = Path.of(r.out().strip());
        String text = Files.readString(unit);
        assertTrue(text.contains("RequiresMountsFor=/var/lib/cfs/objects \"/srv/other store\" "
                + "/var/lib/cfs/images/app.cfs\n"), text);
        assertTrue(text.contains("Type=composefs\n") && text.contains("WantedBy=multi-user.target\n"), text);
        Cli.Result v = Cli.run(List.of("/usr/bin/systemd-analyze", "verify", "--man=no", unit.toString()), null,
                Map.of("SYSTEMD_LOG_LEVEL", "notice"));
        assertEquals(0, v.exit(), text + v.out() + v.stderr());
        // refused options never make a unit
        Cli.Result bad = Cli.run("composefs", "mount-unit", "--options=digest=xyz", "/a.cfs", "/srv/bad");
        assertEquals(1, bad.exit());
        assertTrue(bad.stderr().contains("basedir=") || bad.stderr().contains("digest="), bad.stderr());
    }

    @Test
    void optionsTheHelperWouldRefuseMakeNoUnitAndNoFstabLine() throws Exception {
        // systemd runs mount.composefs without -s: a unit with an unknown option would fail every start
        for (String command : List.of("mount-unit", "fstab-line")) {
            Cli.Result r = Cli.run("composefs", command, "--options=basedir=/s,nofail,noverity", "/a.cfs", "/srv/x");
            assertEquals(1, r.exit(), command);
            assertEquals("composefs " + command + ": unsupported option 'noverity'\n", r.stderr(), command);
            assertEquals("", r.out(), command);
        }
        // a later basedir= replaces an earlier one, as at mount time: only that store is required
        Cli.Result line = Cli.run("composefs", "fstab-line", "--options=basedir=/old,basedir=/new", "/a.cfs", "/srv/x");
        assertEquals(0, line.exit(), line.stderr());
        assertEquals("/a.cfs /srv/x composefs basedir=/old,basedir=/new,x-systemd.requires-mounts-for=/new 0 0\n",
                line.out());
    }

    /**
     * A newline in --options or IMAGE would start a line of the unit's own: an ExecStartPre= that
     * root runs, or a whole [Service] section. Control characters are refused, and nothing is written.
     */
    @Test
    void controlCharactersMakeNoUnitAndNoFstabLine() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("units"));
        String[][] cases = {
            {"--options=basedir=/s\nExecStartPre=/bin/touch /pwned", "/a.cfs", "/srv/x",
                "options holds a control character (\\x0a at 10): refused in a unit or an fstab line"},
            {"--options=basedir=/s", "/a.cfs\n[Service]\nExecStart=/bin/sh", "/srv/x",
                "IMAGE holds a control character (\\x0a at 6): refused in a unit or an fstab line"},
            {"--options=basedir=/s", "/a.cfs", "/srv/x\ry", "WHERE holds a control character (\\x0d at 6): refused in a "
                + "unit or an fstab line"},
        };
        for (String command : List.of("mount-unit", "fstab-line")) {
            for (String[] c : cases) {
                List<String> argv = new java.util.ArrayList<>(List.of("composefs", command, c[0], c[1], c[2]));
                if (command.equals("mount-unit")) {
                    argv.add("--install=" + dir);
                }
                Cli.Result r = Cli.run(argv, null, Map.of());
                assertEquals(1, r.exit(), command + " " + c[0]);
                assertEquals("composefs " + command + ": " + c[3] + "\n", r.stderr(), command + " " + c[0]);
                assertEquals("", r.out());
            }
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList(), "no unit written");
        }
    }

    @Test
    void theFstabGeneratorMakesTheSameMountOfTheFstabLine() throws Exception {
        Path generator = Path.of("/lib/systemd/system-generators/systemd-fstab-generator");
        assumeTrue(Files.isExecutable(generator), "no systemd-fstab-generator here");
        Cli.Result line = Cli.run("composefs", "fstab-line", "--options=basedir=/var/lib/cfs/objects,nofail",
                "/var/lib/cfs/images/app.cfs", "/srv/app");
        assertEquals(0, line.exit(), line.stderr());
        assertEquals("/var/lib/cfs/images/app.cfs /srv/app composefs basedir=/var/lib/cfs/objects,nofail,"
                + "x-systemd.requires-mounts-for=/var/lib/cfs/objects 0 0\n", line.out());
        Path fstab = Files.writeString(tmp.resolve("fstab"), line.out());
        Path out = Files.createDirectories(tmp.resolve("gen"));
        Cli.Result g = Cli.run(List.of(generator.toString(), out.toString(), out.toString(), out.toString()), null,
                Map.of("SYSTEMD_FSTAB", fstab.toString(), "SYSTEMD_LOG_LEVEL", "notice"));
        assertEquals(0, g.exit(), g.stderr());
        String unit = Files.readString(out.resolve("srv-app.mount"));
        assertTrue(unit.contains("What=/var/lib/cfs/images/app.cfs") && unit.contains("Type=composefs")
                && unit.contains("Options=basedir=/var/lib/cfs/objects,nofail"), unit);
        assertTrue(unit.contains("RequiresMountsFor=/var/lib/cfs/objects"), unit);
    }
}
