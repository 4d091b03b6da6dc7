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
        MemoryJobQueue q = queue();
        AtomicReference<String> resident = new AtomicReference<>("a");
        q.preferResident(resident::get, 2);
        submit(q, "b", "b1");
        for (int i = 1; i <= 4; i++) {
            submit(q, "a", "a" + i);
        }
        // b1 is passed over twice (the bound), then runs; the rest of a's follow it in order
        assertEquals(List.of("a1", "a2", "b1", "a3", "a4"), drain(q, resident, 5));
    }

    @Test
    void afterASwapTheNewResidentIsPreferred() throws InterruptedException {
        MemoryJobQueue q = queue();
        AtomicReference<String> resident = new AtomicReference<>("a");
        q.preferResident(resident::get, 4);
        submit(q, "b", "b1");
        submit(q, "a", "a1");
        submit(q, "b", "b2");
        submit(q, "a", "a2");
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
