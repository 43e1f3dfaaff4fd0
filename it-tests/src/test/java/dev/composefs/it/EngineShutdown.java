package dev.composefs.it;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Stops the Docker engine the container tests started when the whole test run ends (not after
 * each class: Testcontainers keeps its connection to the engine for the run). Registered in
 * META-INF/services; does nothing if no test started an engine.
 */
public final class EngineShutdown implements LauncherSessionListener {
    @Override
    public void launcherSessionClosed(LauncherSession session) {
        try {
            DockerEngine.stop();
        } catch (Exception e) {
            System.err.println("composefs it-tests: stopping the Docker engine: " + e.getMessage());
        }
    }
}
