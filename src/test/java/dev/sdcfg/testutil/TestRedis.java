package dev.sdcfg.testutil;

import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.redis.client.Command;
import io.vertx.mutiny.redis.client.Redis;
import io.vertx.mutiny.redis.client.Request;
import redis.embedded.RedisServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/**
 * A real redis-server (6.2.6, shipped inside the embedded-redis jar) for tests: loopback only, a free port (never
 * 6379, which a developer's own Redis may hold), no RDB snapshots and no AOF, so nothing is written to disk.
 */
public final class TestRedis implements AutoCloseable {

    private final int port;
    private RedisServer server;
    private Vertx vertx;
    private Redis client;

    public TestRedis() {
        this.port = freePort();
        start();
    }

    static int freePort() {
        for (int i = 0; i < 20; i++) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (s.getLocalPort() != 6379) {
                    return s.getLocalPort();
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new IllegalStateException("no free port");
    }

    /** (Re)starts the server on the same port (a stopped server simulates Redis being down). */
    public void start() {
        try {
            server = RedisServer.newRedisServer().port(port).bind("127.0.0.1").setting("save \"\"")
                    .setting("appendonly no").build();
            server.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void stop() {
        try {
            server.stop();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    /** A pooled client of this server (one per TestRedis, closed with it). */
    public synchronized Redis client() {
        if (client == null) {
            vertx = Vertx.vertx();
            client = Redis.createClient(vertx, url());
            // First blocking call on this thread: outside Quarkus, Mutiny's context propagation registers its provider
            // on first use, and two threads doing that at once fail ("ContextManagerProvider already set").
            try {
                client.sendAndAwait(Request.cmd(Command.PING));
            } catch (RuntimeException serverStopped) {
                // a test that stopped the server on purpose; the provider is registered all the same
            }
        }
        return client;
    }

    public void flushAll() {
        client().sendAndAwait(Request.cmd(Command.FLUSHALL));
    }

    /** Every key of the store (tests assert that refused requests wrote nothing). */
    public java.util.List<String> keys() {
        java.util.List<String> out = new java.util.ArrayList<>();
        client().sendAndAwait(Request.cmd(Command.KEYS).arg("*")).forEach(r -> out.add(r.toString()));
        java.util.Collections.sort(out);
        return out;
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
            vertx.closeAndAwait();
        }
        stop();
    }
}
