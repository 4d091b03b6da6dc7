package dev.sdcfg.model.unet;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers {@code Timesteps} / {@code get_timestep_embedding}: sinusoidal embedding of (possibly fractional)
 * timesteps, computed in fp32 exactly as diffusers does (the caller casts the result to the model dtype).
 *
 * <p>The frequencies {@code exp(-ln(10000)·i / (half − freq_shift))} are built once, with torch's own fp32 kernels
 * in diffusers' order of operations (so they are bit-identical to diffusers' on the CPU), and kept on the model's
 * device. A small error here would matter: at t = 999 one ulp of a frequency moves the sine's argument by ~1e-4.
 */
public final class Timesteps {

    private final NDArray freqs; // [half] fp32 on the model device
    private final int dim;
    private final int half;
    private final boolean flipSinToCos;

    public Timesteps(NDManager manager, int dim, boolean flipSinToCos, double freqShift) {
        if (dim < 2) {
            throw new IllegalArgumentException("timestep embedding dimension " + dim + " is too small");
        }
        this.dim = dim;
        this.half = dim / 2;
        this.flipSinToCos = flipSinToCos;
        try (NDManager cpu = NDManager.newBaseManager(Device.cpu())) {
            NDArray exponent = cpu.arange(0f, (float) half, 1f, DataType.FLOAT32).mul(-Math.log(10000.0));
            NDArray f = exponent.div(half - freqShift).exp();
            NDArray onDevice = f.toDevice(manager.getDevice(), true);
            onDevice.attach(manager);
            NDScope.unregister(onDevice);
            this.freqs = onDevice;
        }
    }

    /**
     * @param timesteps [B] timesteps, any numeric dtype, on the model device
     * @return [B, dim] fp32 embedding: [cos, sin] when flip_sin_to_cos, else [sin, cos]
     */
    public NDArray forward(NDArray timesteps) {
        NDArray arg = timesteps.toType(DataType.FLOAT32, false).reshape(new Shape(-1, 1)).mul(freqs);
        NDArray sin = arg.sin();
        NDArray cos = arg.cos();
        NDArray emb = flipSinToCos ? NDArrays.concat(new NDList(cos, sin), 1) : NDArrays.concat(new NDList(sin, cos), 1);
        if (dim % 2 == 1) {
            emb = emb.pad(new Shape(0, 1), 0);
        }
        return emb;
    }

    public int dim() {
        return dim;
    }

    /** The frequencies (fp32, [dim/2]); for tests. */
    NDArray frequencies() {
        return freqs;
    }
}
