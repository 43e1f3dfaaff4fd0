package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import com.github.dockerjava.api.model.Volume;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * composefs mounts run by a real systemd as PID 1 (a Debian bookworm root in a container,
 * it-tests/container/systemd-image.sh): units written by composefs mount-unit start and stop,
 * a refused mount shows the helper's reason in systemctl status and the journal, an fstab line
 * from composefs fstab-line with nofail is mounted by local-fs.target, and a store on its own
 * mount is mounted first because the unit requires it. The image and store live on a host
 * directory bound into the container (EROFS cannot be file-backed from the container's tmpfs).
 */
class SystemdTest {
    @TempDir
    static Path data;

    private static ExecResult sh(GenericContainer<?> c, String script) throws Exception {
        return c.execInContainer("/bin/sh", "-c", script);
    }

    private static void ok(GenericContainer<?> c, String script) throws Exception {
        ExecResult r = sh(c, script);
        assertEquals(0, r.getExitCode(), script + ":\n" + r.getStdout() + r.getStderr());
    }

    @Test
    void unitsAndFstabUnderARealSystemd() throws Exception {
        DockerEngine.assumeUp();
        Cli.Result image = Cli.run(List.of(Cli.repo().resolve("it-tests/container/systemd-image.sh").toString()), null,
                Map.of());
        assertEquals(0, image.exit(), image.stderr());
        Cli.Result version = Cli.run("/usr/bin/env", "docker", "version", "--format", "{{.Server.APIVersion}}");
        if (version.exit() == 0 && !version.out().isBlank()) {
            System.setProperty("api.version", version.out().strip());
        }

        Path src = Files.createDirectories(data.resolve("src/etc"));
        Files.writeString(src.resolve("motd"), "hello from a composefs unit\n");
        Files.writeString(src.resolve("big"), "x".repeat(10_000));
        Cli.Result mk = Cli.run("mkcomposefs", "--digest-store=" + data.resolve("store"), data.resolve("src").toString(),
                data.resolve("image.cfs").toString());
        assertEquals(0, mk.exit(), mk.stderr());

        try (GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse("composefs-systemd:local"))
                .withTmpFs(Map.of("/run", "rw", "/run/lock", "rw", "/tmp", "rw"))
                .withEnv("container", "docker")
                .withCreateContainerCmdModifier(cmd -> cmd.withStopSignal("SIGRTMIN+3").getHostConfig()
                        // a plain bind: Testcontainers' withFileSystemBind first checks file mounting
                        // with a helper image it would pull, and there is no registry here
                        .withBinds(new Bind(data.toString(), new Volume("/data")))
                        .withNetworkMode("none")
                        .withCgroupnsMode("private") // systemd needs its own cgroup namespace on this host
                        .withCapAdd(Capability.ALL)
                        .withCapDrop(Capability.SYS_RESOURCE)
                        .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                        .withDevices(Device.parse("/dev/loop-control"))
                        .withDeviceCgroupRules(List.of("b 7:* rmw")))
                .withStartupTimeout(Duration.ofMinutes(2))) {
            c.start();
            String state = "";
            for (int i = 0; i < 100 && !state.equals("running") && !state.equals("degraded"); i++) {
                Thread.sleep(100);
                state = sh(c, "systemctl is-system-running").getStdout().strip();
            }
            assertTrue(state.equals("running") || state.equals("degraded"), "systemd is up: " + state);

            // a generated unit: start mounts, stop unmounts
            ok(c, "/cfs/composefs mount-unit --options=basedir=/data/store /data/image.cfs /srv/app --install");
            ok(c, "systemctl daemon-reload && systemctl start srv-app.mount");
            assertEquals("hello from a composefs unit\n", sh(c, "cat /srv/app/etc/motd").getStdout());
            assertEquals("x".repeat(10_000), sh(c, "cat /srv/app/etc/big").getStdout());
            assertEquals("active", sh(c, "systemctl is-active srv-app.mount").getStdout().strip());
            ok(c, "systemctl stop srv-app.mount");
            assertFalse(sh(c, "cat /proc/self/mountinfo").getStdout().contains(" /srv/app "), "unmounted by stop");
            assertEquals("", sh(c, "losetup -n -O NAME,BACK-FILE").getStdout().strip(), "no loop device left");

            // a wrong digest: the start fails and status and the journal say why
            ok(c, "/cfs/composefs mount-unit --options=basedir=/data/store,digest=" + "0".repeat(64)
                    + " /data/image.cfs /srv/bad --install=/etc/systemd/system");
            ok(c, "systemctl daemon-reload");
            assertNotEquals(0, sh(c, "systemctl start srv-bad.mount").getExitCode());
            String status = sh(c, "systemctl status srv-bad.mount").getStdout();
            assertTrue(status.contains("wrong fs-verity digest") && status.contains("status=32"), status);
            String journal = sh(c, "journalctl -u srv-bad.mount --no-pager").getStdout();
            assertTrue(journal.contains("wrong fs-verity digest"), journal);

            // an fstab line with nofail, mounted by local-fs.target (wanted, not ordered: poll)
            ok(c, "/cfs/composefs fstab-line --options=basedir=/data/store,nofail /data/image.cfs /srv/fstab >> /etc/fstab");
            ok(c, "systemctl daemon-reload && systemctl start local-fs.target");
            boolean mounted = false;
            for (int i = 0; i < 100 && !mounted; i++) {
                mounted = sh(c, "cat /srv/fstab/etc/motd").getExitCode() == 0;
                if (!mounted) {
                    Thread.sleep(100);
                }
            }
            assertTrue(mounted, "local-fs.target mounted the fstab line: "
                    + sh(c, "systemctl status srv-fstab.mount").getStdout());
            ok(c, "systemctl stop srv-fstab.mount");

            // a store on its own mount is mounted first: the unit requires its path
            ok(c, "mkdir -p /etc/systemd/system && printf '[Mount]\\nWhat=/data/store\\nWhere=/srv/store\\n"
                    + "Type=none\\nOptions=bind\\n' > /etc/systemd/system/srv-store.mount");
            ok(c, "/cfs/composefs mount-unit --options=basedir=/srv/store /data/image.cfs /srv/app2 --install");
            ok(c, "systemctl daemon-reload");
            assertEquals("inactive", sh(c, "systemctl is-active srv-store.mount").getStdout().strip());
            ok(c, "systemctl start srv-app2.mount");
            assertEquals("active", sh(c, "systemctl is-active srv-store.mount").getStdout().strip(),
                    "RequiresMountsFor= pulled in the store's mount");
            assertEquals("hello from a composefs unit\n", sh(c, "cat /srv/app2/etc/motd").getStdout());
            ok(c, "systemctl stop srv-app2.mount srv-store.mount");
            String left = sh(c, "cat /proc/self/mountinfo").getStdout();
            assertFalse(left.contains(" /srv/app2 ") || left.contains(" /srv/store "), left);
        }
    }
}
