package dev.composefs.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy in front of a registry that drops each connection once it has passed limit bytes
 * towards the client (a registry that disconnects in the middle of a blob), optionally slowed to
 * about bytesPerSecond per connection (a pull that can be interrupted while it runs).
 */
final class CuttingProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int targetPort;
    private final long limit;
    private final long bytesPerSecond;
    final AtomicInteger cuts = new AtomicInteger();
    final java.util.concurrent.atomic.AtomicLong passed = new java.util.concurrent.atomic.AtomicLong();

    CuttingProxy(int targetPort, long limit) throws IOException {
        this(targetPort, limit, 0);
    }

    CuttingProxy(int targetPort, long limit, long bytesPerSecond) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.limit = limit;
        this.bytesPerSecond = bytesPerSecond;
        Thread t = new Thread(this::accept, "cutting-proxy");
        t.setDaemon(true);
        t.start();
    }

    String host() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                pump(client.getInputStream(), upstream.getOutputStream(), Long.MAX_VALUE, client, upstream, false);
                pump(upstream.getInputStream(), client.getOutputStream(), limit, client, upstream, true);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void pump(InputStream in, OutputStream out, long budget, Socket a, Socket b, boolean towardsClient) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            long passed = 0;
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    int send = (int) Math.min(n, budget - passed);
                    out.write(buf, 0, send);
                    passed += send;
                    if (towardsClient) {
                        this.passed.addAndGet(send);
                        if (bytesPerSecond > 0) {
                            Thread.sleep(Math.max(1, send * 1000L / bytesPerSecond));
                        }
                    }
                    if (passed >= budget) {
                        cuts.incrementAndGet();
                        break;
                    }
                }
            } catch (IOException | InterruptedException ignored) {
                // the other side went away
            }
            closeQuietly(a);
            closeQuietly(b);
        }, "cutting-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
