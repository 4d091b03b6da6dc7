package dev.sdcfg.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Jobs by id. Queued and running jobs are always kept; finished ones are evicted once older than the TTL, and the
 * oldest finished ones beyond {@code maxRetained}.
 */
final class JobStore {

    private final ConcurrentHashMap<String, Job> jobs = new ConcurrentHashMap<>();

    void put(Job job) {
        jobs.put(job.id(), job);
    }

    Optional<Job> get(String id) {
        return id == null ? Optional.empty() : Optional.ofNullable(jobs.get(id));
    }

    boolean remove(Job job) {
        return jobs.remove(job.id(), job);
    }

    int size() {
        return jobs.size();
    }

    /** Removes expired and surplus finished jobs; returns how many went. */
    synchronized int evict(long nowMillis, Duration ttl, int maxRetained) {
        int removed = 0;
        List<Job> finished = new ArrayList<>();
        for (Job j : jobs.values()) {
            if (!j.isFinal()) {
                continue;
            }
            if (nowMillis - j.finishedAtMillis() >= ttl.toMillis()) {
                if (jobs.remove(j.id(), j)) {
                    removed++;
                }
            } else {
                finished.add(j);
            }
        }
        if (finished.size() > maxRetained) {
            finished.sort(Comparator.comparingLong(Job::finishedAtMillis));
            for (int i = 0; i < finished.size() - maxRetained; i++) {
                if (jobs.remove(finished.get(i).id(), finished.get(i))) {
                    removed++;
                }
            }
        }
        return removed;
    }
}
