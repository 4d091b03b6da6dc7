package dev.sdcfg.pipeline;

/**
 * Progress of a request with a high-resolution second pass: both passes count as one run of {@code total} steps
 * (A1111 counts {@code steps + hires steps} as well), the second pass's steps after the first's. Everything else
 * goes to the job's listener unchanged.
 */
final class PassProgress implements GenerationListener {

    private final GenerationListener job;
    private final int offset;
    private final int total;

    /** The pass whose step 0 is overall step {@code offset} of {@code total}. */
    PassProgress(GenerationListener job, int offset, int total) {
        this.job = job;
        this.offset = offset;
        this.total = total;
    }

    @Override
    public boolean isCanceled() {
        return job.isCanceled();
    }

    @Override
    public void onStep(int image, int step, int totalSteps, long nanos) {
        job.onStep(image, offset + step, total, nanos);
    }

    @Override
    public int previewEvery() {
        return job.previewEvery();
    }

    @Override
    public void onPreview(int image, int step, int totalSteps, LatentPreview.Image preview) {
        job.onPreview(image, offset + step, total, preview);
    }

    @Override
    public void onTextEncoded(long nanos) {
        job.onTextEncoded(nanos);
    }

    @Override
    public void onUnetForward(long nanos) {
        job.onUnetForward(nanos);
    }

    @Override
    public void onVaeDecoded(long nanos) {
        job.onVaeDecoded(nanos);
    }

    @Override
    public void onMemoryPlan(MemoryPlan plan) {
        job.onMemoryPlan(plan);
    }
}
