package dev.sdcfg.jobs;

import dev.sdcfg.testutil.TestRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.time.Duration;

/** The contract on the shared queue, against a real redis-server started by the test. */
class RedisJobQueueContractTest extends JobQueueContractTest {

    static TestRedis redis;

    @BeforeAll
    static void startRedis() {
        redis = new TestRedis();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    @BeforeEach
    void emptyStore() {
        redis.flushAll();
    }

    @Override
    JobQueue newQueue(JobSettings settings) {
        return new RedisJobQueue(redis.client(), settings, Duration.ofSeconds(30), 2, Duration.ofSeconds(5), "sd:");
    }
}
