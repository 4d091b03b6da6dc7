package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;

/**
 * Where stochastic samplers (Euler ancestral, DDPM, DDIM with eta &gt; 0, SDE DPM-Solver, Euler with churn) get
 * their per-step Gaussian noise.
 */
@FunctionalInterface
public interface NoiseSource {

    /**
     * Standard normal noise of {@code shape} and {@code dtype}, on {@code manager}'s device and attached to it.
     */
    NDArray randn(Shape shape, DataType dtype, NDManager manager);

    /**
     * Draws on the CPU from the engine's global generator, then moves the result to the target device, so that
     * {@code DjlRuntime.seed(s)} followed by the draws reproduces
     * {@code g = torch.Generator("cpu").manual_seed(s); torch.randn(shape, generator=g, dtype=dtype)} call after
     * call, on any device. The generator is global: only the worker thread may draw.
     *
     * <p>Half-precision requests are drawn in float32 and cast ({@link #drawType}): torch's CPU half normals use
     * other bits of each random word than float ones, so drawing in fp16 would make an fp16 (GPU) run of a
     * stochastic sampler a different image from the fp32 run of the same seed. The pipeline's initial noise follows
     * the same rule, so a seed means the same image on any device and precision. (diffusers' schedulers draw in
     * the model's dtype; for fp32 and fp64, the dtypes parity is checked in, the two are the same.)
     */
    NoiseSource ENGINE_CPU = new NoiseSource() {
        @Override
        public NDArray randn(Shape shape, DataType dtype, NDManager manager) {
            if (!manager.getDevice().isGpu() && drawType(dtype) == dtype) {
                return manager.randomNormal(0f, 1f, shape, dtype);
            }
            try (NDManager cpu = DjlRuntime.engine().newBaseManager(Device.cpu())) {
                NDArray n = cpu.randomNormal(0f, 1f, shape, drawType(dtype));
                NDArray moved = n.toDevice(manager.getDevice(), true).toType(dtype, false);
                moved.attach(manager);
                return moved;
            }
        }

        @Override
        public String toString() {
            return "NoiseSource.ENGINE_CPU";
        }
    };

    /** The dtype noise of {@code dtype} is drawn in: float32 for the half types, else {@code dtype} itself. */
    static DataType drawType(DataType dtype) {
        return dtype == DataType.FLOAT16 || dtype == DataType.BFLOAT16 ? DataType.FLOAT32 : dtype;
    }

    /** For deterministic samplers: fails if a draw is ever requested. */
    NoiseSource NONE = (shape, dtype, manager) -> {
        throw new IllegalStateException("this sampler configuration needs noise but no NoiseSource was given");
    };
}
