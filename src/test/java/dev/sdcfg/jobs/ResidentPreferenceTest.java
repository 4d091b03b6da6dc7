package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GenerationRequest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The in-memory queue's preference for jobs on the resident model (models folder), and its bound. */
class ResidentPreferenceTest {

    private static final Duration NO_WAIT = Duration.ZERO;

    private static Job submit(MemoryJobQueue q, String model, String label) {
        GenerationRequest r = new GenerationRequest("p", "", 64, 64, 2, null, null, null, 1, 1, model);
        return q.submit(new JobQueue.Submission(JobKind.GENERATION, List.of(new JobTask(label, r)), 0, null), 0);
    }

    private static String next(MemoryJobQueue q, AtomicReference<String> resident) throws InterruptedException {
        JobQueue.Claim c = q.claim("w", NO_WAIT, () -> 0L).orElseThrow();
        String model = c.job().tasks().get(0).request().model();
        resident.set(model); // the worker swaps to what it runs
        return c.job().tasks().get(0).label();
    }

    private static List<String> drain(MemoryJobQueue q, AtomicReference<String> resident, int n)
            throws InterruptedException {
        List<String> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(next(q, resident));
        }
        return order;
    }

    /** A queue preferring {@code resident}, holding one job per model given, labelled model + ordinal ("a2"). */
    private static MemoryJobQueue preferring(AtomicReference<String> resident, int bound, String... models) {
        MemoryJobQueue q = queue();
        q.preferResident(resident::get, bound);
        java.util.Map<String, Integer> seen = new java.util.HashMap<>();
        for (String m : models) {
            submit(q, m, m + seen.merge(m, 1, Integer::sum));
        }
        return q;
    }

    private static MemoryJobQueue queue() {
        return new MemoryJobQueue(new JobSettings(32, Duration.ofMinutes(5), 100, Duration.ofSeconds(1),
                Duration.ofSeconds(1)));
    }

    @Test
    void withoutAPreferenceTheQueueIsFifo() throws InterruptedException {
        MemoryJobQueue q = queue();
        AtomicReference<String> resident = new AtomicReference<>("a");
        submit(q, "b", "b1");
        submit(q, "a", "a1");
        assertEquals("b1", next(q, resident));
        assertEquals("a1", next(q, resident));
    }

    @Test
    void jobsOnTheResidentModelGoFirstButTheOldestIsPassedOverAtMostTheBound() throws InterruptedException {
        AtomicReference<String> resident = new AtomicReference<>("a");
        MemoryJobQueue q = preferring(resident, 2, "b", "a", "a", "a", "a");
        // b1 is passed over twice (the bound), then runs; the rest of a's follow it in order
        assertEquals(List.of("a1", "a2", "b1", "a3", "a4"), drain(q, resident, 5));
    }

    @Test
    void afterASwapTheNewResidentIsPreferred() throws InterruptedException {
        AtomicReference<String> resident = new AtomicReference<>("a");
        MemoryJobQueue q = preferring(resident, 4, "b", "a", "b", "a");
        // a, a on the resident model, then one swap to b for both b's: two swaps instead of four
        assertEquals(List.of("a1", "a2", "b1", "b2"), drain(q, resident, 4));
    }

    @Test
    void queuePositionsFollowTheReordering() throws InterruptedException {
        MemoryJobQueue q = queue();
        AtomicReference<String> resident = new AtomicReference<>("a");
        q.preferResident(resident::get, 4);
        Job b1 = submit(q, "b", "b1");
        submit(q, "a", "a1");
        Job a2 = submit(q, "a", "a2");
        assertEquals("a1", next(q, resident));
        assertEquals(1, q.queuePosition(b1.id()).getAsInt());
        assertEquals(2, q.queuePosition(a2.id()).getAsInt());
    }
}
