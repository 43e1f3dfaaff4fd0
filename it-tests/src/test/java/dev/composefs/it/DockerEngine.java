package dev.composefs.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;

/**
 * The Docker engine of the container tests: started by it-tests/container/docker-up.sh if none
 * answers (the test is skipped with the reason if none can run), stopped after the test class
 * by docker-down.sh, by the pid docker-up.sh recorded, if it was the one that started it.
 */
final class DockerEngine {
    private DockerEngine() {}

    static void assumeUp() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "starting a Docker engine needs root");
        Cli.Result up = Cli.run(List.of(Cli.repo().resolve("it-tests/container/docker-up.sh").toString()), null, Map.of());
        Infra.require(up.exit() == 0, "no Docker engine can run here: " + up.stderr().strip());
    }

    static void stop() throws Exception {
        Cli.Result down = Cli.run(List.of(Cli.repo().resolve("it-tests/container/docker-down.sh").toString()), null, Map.of());
        if (down.exit() != 0) {
            throw new AssertionError("docker-down.sh: " + down.stderr());
        }
    }
}
