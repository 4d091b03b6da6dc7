package dev.sdcfg.jobs;

/** The contract on the default, in-process queue. */
class MemoryJobQueueContractTest extends JobQueueContractTest {
    @Override
    JobQueue newQueue(JobSettings settings) {
        return new MemoryJobQueue(settings);
    }
}
