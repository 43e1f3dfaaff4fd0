package dev.composefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.utility.DockerImageName;

/**
 * The mount scenarios (it-tests/kernel/scenarios.sh) inside a container driven by
 * Testcontainers, with an image built locally (no registry). --privileged fails on these VMs
 * ("unable to apply caps"), so the container gets every capability but SYS_RESOURCE, no
 * seccomp or AppArmor profile, /dev/loop-control and the right to use loop devices, whose
 * nodes the orchestrator creates when the container's /dev lacks them.
 */
class ContainerTest {
    @Test
    void mountScenariosInAContainer() throws Exception {
        DockerEngine.assumeUp();
        Cli.Result image = Cli.run(List.of(Cli.repo().resolve("it-tests/container/build-image.sh").toString()), null, Map.of());
        assertEquals(0, image.exit(), image.stderr());

        // Testcontainers 2.0.2 speaks API 1.44 unless told otherwise; Debian's engine (20.10)
        // stops at 1.41: use the engine's own version (docker-java reads this property).
        Cli.Result version = Cli.run("/usr/bin/env", "docker", "version", "--format", "{{.Server.APIVersion}}");
        if (version.exit() == 0 && !version.out().isBlank()) {
            System.setProperty("api.version", version.out().strip());
        }
        try (GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse("composefs-it:local"))
                .withTmpFs(Map.of("/data", "rw", "/tmp", "rw"))
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                        .withCapAdd(Capability.ALL)
                        .withCapDrop(Capability.SYS_RESOURCE)
                        .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                        .withDevices(Device.parse("/dev/loop-control"))
                        .withDeviceCgroupRules(List.of("b 7:* rmw")))
                .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(Duration.ofMinutes(10)))) {
            c.start();
            String logs = c.getLogs();
            System.out.println(logs);
            assertTrue(logs.contains("@@DONE"), "scenarios did not finish:\n" + logs);
            List<String> results = logs.lines().filter(l -> l.startsWith("@@RESULT|")).toList();
            assertTrue(results.stream().anyMatch(l -> l.startsWith("@@RESULT|plain|PASS")), logs);
            assertTrue(results.stream().anyMatch(l -> l.startsWith("@@RESULT|idmap|PASS")), logs);
            assertTrue(results.stream().anyMatch(l -> l.startsWith("@@RESULT|upperdir|PASS")), logs);
            assertTrue(results.stream().noneMatch(l -> l.contains("|FAIL|")), "a scenario failed:\n" + logs);
        }
    }
}
