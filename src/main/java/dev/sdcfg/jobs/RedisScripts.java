package dev.sdcfg.jobs;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The Lua scripts of {@link RedisJobQueue}: every step that reads a job's state and then changes it runs as one
 * script, so no other client sees (or writes) a half-done step. Above all, {@link #HEARTBEAT}, {@link #COMPLETE} and
 * {@link #HAND_BACK} act only while the caller still owns the job (same worker and attempt): a worker whose lease
 * lapsed and whose job another replica took over cannot overwrite the newer attempt.
 *
 * <p>Hash fields of a job: {@code kind columns tasks created seq entry status attempt crashes worker cancel started
 * finished steps_done steps_total tasks_done error_type error result nimg lease_until}. Keys: see
 * {@link RedisJobQueue}. The consumer group is always {@code workers}.
 */
final class RedisScripts {

    private RedisScripts() {
    }

    /** A script and its SHA-1 (EVALSHA first; EVAL when the server does not know it yet). */
    record Script(String name, String source, String sha) {
        static Script of(String name, String source) {
            try {
                byte[] d = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
                StringBuilder hex = new StringBuilder();
                for (byte b : d) {
                    hex.append(String.format("%02x", b));
                }
                return new Script(name, source, hex.toString());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * Submit with the global capacity check and the idempotency key. KEYS: job, queued (zset), stream, seq, idem.
     * ARGV: id, capacity, kind, columns, tasks, created, steps_total, idem value ("" = none), idem ttl ms, job key
     * prefix. Returns {"ok", id} | {"same", id} | {"conflict", id} | {"full"}.
     */
    static final Script SUBMIT = Script.of("submit", """
            if ARGV[8] ~= '' then
              local prev = redis.call('GET', KEYS[5])
              if prev then
                local sep = string.find(prev, ' ', 1, true)
                local digest = string.sub(prev, 1, sep - 1)
                local earlier = string.sub(prev, sep + 1)
                local mine = string.sub(ARGV[8], 1, string.find(ARGV[8], ' ', 1, true) - 1)
                if digest ~= mine then return {'conflict', earlier} end
                if redis.call('EXISTS', ARGV[10] .. earlier) == 1 then return {'same', earlier} end
              end
            end
            if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {'full'} end
            local seq = redis.call('INCR', KEYS[4])
            local entry = redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
            redis.call('HSET', KEYS[1], 'kind', ARGV[3], 'columns', ARGV[4], 'tasks', ARGV[5], 'created', ARGV[6],
              'seq', seq, 'entry', entry, 'status', 'queued', 'attempt', 0, 'crashes', 0, 'cancel', 0,
              'steps_done', 0, 'steps_total', ARGV[7], 'tasks_done', 0)
            redis.call('ZADD', KEYS[2], seq, ARGV[1])
            if ARGV[8] ~= '' then redis.call('SET', KEYS[5], ARGV[8], 'PX', ARGV[9]) end
            return {'ok', ARGV[1]}
            """);

    /**
     * Starts a delivered (or reclaimed) stream entry. KEYS: job, queued, stream. ARGV: entry, worker, now,
     * max crashes, ttl ms, id, events channel. A job still marked running was left by a dead worker: that counts
     * as a crash, and past the limit the job fails instead of running again. Returns {"run", attempt} or {"skip"}.
     */
    static final Script START = Script.of("start", """
            local function drop()
              redis.call('XACK', KEYS[3], 'workers', ARGV[1])
              redis.call('XDEL', KEYS[3], ARGV[1])
            end
            local function finish(status, etype, msg)
              redis.call('HSET', KEYS[1], 'status', status, 'error_type', etype, 'error', msg, 'finished', ARGV[3])
              redis.call('PEXPIRE', KEYS[1], ARGV[5])
              redis.call('ZREM', KEYS[2], ARGV[6])
              drop()
              redis.call('PUBLISH', ARGV[7], ARGV[6])
              return {'skip'}
            end
            if redis.call('EXISTS', KEYS[1]) == 0 then drop() return {'skip'} end
            local h = redis.call('HMGET', KEYS[1], 'status', 'cancel', 'crashes', 'attempt', 'entry')
            local status = h[1]
            if h[5] ~= ARGV[1] then drop() return {'skip'} end
            if status == 'succeeded' or status == 'failed' or status == 'canceled' then drop() return {'skip'} end
            local crashes = tonumber(h[3])
            if status == 'running' then
              crashes = crashes + 1
              redis.call('HSET', KEYS[1], 'crashes', crashes)
            end
            if h[2] == '1' then return finish('canceled', 'canceled', 'canceled before it could run again') end
            if crashes > tonumber(ARGV[4]) then
              return finish('failed', 'worker_crashed', 'its worker stopped (crash, kill or lost lease) during '
                .. crashes .. ' runs; not retried again')
            end
            local attempt = tonumber(h[4]) + 1
            redis.call('HSET', KEYS[1], 'status', 'running', 'attempt', attempt, 'worker', ARGV[2],
              'started', ARGV[3], 'steps_done', 0, 'tasks_done', 0)
            redis.call('ZREM', KEYS[2], ARGV[6])
            return {'run', tostring(attempt)}
            """);

    /**
     * Renews the lease and publishes progress, only while the caller owns the job. KEYS: job, stream. ARGV: worker,
     * attempt, entry, steps_done, steps_total, tasks_done, lease_until. Returns "held" | "cancel" | "lost".
     * XCLAIM by the same consumer resets the entry's idle time: that is the lease XAUTOCLAIM looks at.
     */
    static final Script HEARTBEAT = Script.of("heartbeat", """
            local h = redis.call('HMGET', KEYS[1], 'worker', 'attempt', 'status', 'cancel')
            if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[3] ~= 'running' then return 'lost' end
            redis.call('XCLAIM', KEYS[2], 'workers', ARGV[1], 0, ARGV[3], 'JUSTID')
            redis.call('HSET', KEYS[1], 'steps_done', ARGV[4], 'steps_total', ARGV[5], 'tasks_done', ARGV[6],
              'lease_until', ARGV[7])
            if h[4] == '1' then return 'cancel' end
            return 'held'
            """);

    /**
     * Stores the outcome, only while the caller owns the job. KEYS: job, stream, grid, image 0, image 1, …
     * ARGV: worker, attempt, entry, status, error_type, error, finished, ttl ms, result, steps_done, steps_total,
     * tasks_done, events channel, id, has grid (1/0), [grid png], image pngs… Returns 1, or 0 when not the owner.
     */
    static final Script COMPLETE = Script.of("complete", """
            local h = redis.call('HMGET', KEYS[1], 'worker', 'attempt', 'status')
            if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[3] ~= 'running' then return 0 end
            local base = 16
            if ARGV[15] == '1' then
              redis.call('SET', KEYS[3], ARGV[16], 'PX', ARGV[8])
              base = 17
            end
            local n = #KEYS - 3
            for i = 1, n do
              redis.call('SET', KEYS[3 + i], ARGV[base + i - 1], 'PX', ARGV[8])
            end
            redis.call('HSET', KEYS[1], 'status', ARGV[4], 'error_type', ARGV[5], 'error', ARGV[6],
              'finished', ARGV[7], 'result', ARGV[9], 'steps_done', ARGV[10], 'steps_total', ARGV[11],
              'tasks_done', ARGV[12], 'nimg', n)
            redis.call('PEXPIRE', KEYS[1], ARGV[8])
            redis.call('XACK', KEYS[2], 'workers', ARGV[3])
            redis.call('XDEL', KEYS[2], ARGV[3])
            redis.call('PUBLISH', ARGV[13], ARGV[14])
            return 1
            """);

    /**
     * Cancel from the API. KEYS: job, queued. ARGV: now, ttl ms, id, events channel, cancel channel.
     * Returns "canceled" (was queued) | "requested" (running: its worker stops) | "finished" | "unknown".
     */
    static final Script CANCEL = Script.of("cancel", """
            local st = redis.call('HGET', KEYS[1], 'status')
            if not st then return 'unknown' end
            if st == 'queued' then
              redis.call('HSET', KEYS[1], 'status', 'canceled', 'cancel', 1, 'error_type', 'canceled',
                'error', 'canceled before it started', 'finished', ARGV[1])
              redis.call('ZREM', KEYS[2], ARGV[3])
              redis.call('PEXPIRE', KEYS[1], ARGV[2])
              redis.call('PUBLISH', ARGV[4], ARGV[3])
              return 'canceled'
            end
            if st == 'running' then
              redis.call('HSET', KEYS[1], 'cancel', 1)
              redis.call('PUBLISH', ARGV[5], ARGV[3])
              return 'requested'
            end
            return 'finished'
            """);

    /** Deletes a finished job and its PNGs. KEYS: job, grid. ARGV: image key prefix. Returns 1 or 0. */
    static final Script DELETE = Script.of("delete", """
            local h = redis.call('HMGET', KEYS[1], 'status', 'nimg')
            local st = h[1]
            if st ~= 'succeeded' and st ~= 'failed' and st ~= 'canceled' then return 0 end
            local n = tonumber(h[2] or '0') or 0
            for i = 0, n - 1 do redis.call('DEL', ARGV[1] .. i) end
            redis.call('DEL', KEYS[1], KEYS[2])
            return 1
            """);

    /**
     * Gives a running job back (graceful shutdown), only while the caller owns it: queued again at its old place,
     * its stream entry made idle past the lease so the next XAUTOCLAIM by any replica takes it at once. Not a crash.
     * KEYS: job, queued, stream. ARGV: worker, attempt, entry, id, idle ms. Returns 1 or 0.
     */
    static final Script HAND_BACK = Script.of("hand_back", """
            local h = redis.call('HMGET', KEYS[1], 'worker', 'attempt', 'status', 'seq')
            if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[3] ~= 'running' then return 0 end
            redis.call('HSET', KEYS[1], 'status', 'queued', 'steps_done', 0, 'tasks_done', 0)
            redis.call('ZADD', KEYS[2], h[4], ARGV[4])
            redis.call('XCLAIM', KEYS[3], 'workers', ARGV[1], 0, ARGV[3], 'IDLE', ARGV[5], 'JUSTID')
            return 1
            """);
}
