package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;

/**
 * {@link NoiseSource#ENGINE_CPU}'s draws, made ahead in batches so that a GPU job copies noise to the device once
 * per batch instead of once per step (each pageable host→device copy synchronises the stream, stalling the host).
 *
 * <p>The numbers are the same: on its first request it draws the next {@code batch} arrays one after another from
 * the engine's global CPU generator, exactly as that many successive {@code ENGINE_CPU} requests would, stacks them
 * and moves the stack to the device in one copy; requests are then served in order as views of the stack. Nothing
 * else may draw from the generator while a job samples (the worker thread owns it), so reading ahead does not change
 * which draw each step gets. Draws made ahead but never used are simply dropped: the generator is re-seeded per
 * image. All requests must share one shape and dtype (a sampler only ever asks for noise shaped like its sample).
 *
 * <p>On the CPU there is nothing to save and requests go straight to {@code ENGINE_CPU}, unless {@code evenOnCpu}
 * (tests use it to check that reading ahead yields identical draws).
 */
public final class PrefetchedNoise implements NoiseSource, AutoCloseable {

    /** Upper bound on one batch's size, so that long runs at large sizes do not pin much device memory. */
    static final long MAX_BATCH_BYTES = 64L << 20;

    private final int maxDraws;
    private final boolean evenOnCpu;
    private final long maxBatchBytes;
    private Shape shape;
    private DataType dtype;
    private NDArray batch;
    private int next;
    private int drawn;

    /**
     * @param maxDraws how many draws the job can need at most (the number of sampler steps; samplers draw at most once
     *                 per step). More requests are still served, in further batches.
     */
    public PrefetchedNoise(int maxDraws, boolean evenOnCpu) {
        this(maxDraws, evenOnCpu, MAX_BATCH_BYTES);
    }

    PrefetchedNoise(int maxDraws, boolean evenOnCpu, long maxBatchBytes) {
        if (maxDraws < 1) {
            throw new IllegalArgumentException("maxDraws must be at least 1, got " + maxDraws);
        }
        this.maxDraws = maxDraws;
        this.evenOnCpu = evenOnCpu;
        this.maxBatchBytes = maxBatchBytes;
    }

    public PrefetchedNoise(int maxDraws) {
        this(maxDraws, false);
    }

    @Override
    public NDArray randn(Shape shape, DataType dtype, NDManager manager) {
        if (!manager.getDevice().isGpu() && !evenOnCpu) {
            return ENGINE_CPU.randn(shape, dtype, manager);
        }
        if (this.shape == null) {
            this.shape = shape;
            this.dtype = dtype;
        } else if (!this.shape.equals(shape) || this.dtype != dtype) {
            throw new IllegalStateException("noise requests changed from " + this.shape + " " + this.dtype + " to "
                    + shape + " " + dtype + ": draws made ahead would no longer match direct draws");
        }
        if (batch == null || next == batch.getShape().get(0)) {
            refill(manager.getDevice());
        }
        NDArray view = batch.get(next++);
        view.attach(manager);
        return view;
    }

    private void refill(Device device) {
        close();
        long bytes = Math.max(1, shape.size() * NoiseSource.drawType(dtype).getNumOfBytes());
        int remaining = Math.max(1, maxDraws - drawn);
        int n = (int) Math.max(1, Math.min(remaining, maxBatchBytes / bytes));
        try (NDManager cpu = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            NDList draws = new NDList(n);
            for (int k = 0; k < n; k++) {
                draws.add(cpu.randomNormal(0f, 1f, shape, NoiseSource.drawType(dtype)));
            }
            NDArray stacked = draws.size() == 1 ? draws.get(0).expandDims(0) : NDArrays.stack(draws);
            batch = stacked.toDevice(device, true).toType(dtype, false);
            // the batch outlives this step (out of its NDScope) and the CPU manager (a manager of its own)
            NDScope.unregister(batch);
            batch.attach(DjlRuntime.engine().newBaseManager(device));
        }
        drawn += n;
        next = 0;
    }

    /** How many arrays have been drawn from the generator so far (used or not). */
    int drawnAhead() {
        return drawn;
    }

    @Override
    public void close() {
        if (batch != null) {
            NDManager owner = batch.getManager();
            batch.close();
            owner.close();
            batch = null;
        }
    }

    @Override
    public String toString() {
        return "PrefetchedNoise[maxDraws=" + maxDraws + ", drawn=" + drawn + "]";
    }
}
