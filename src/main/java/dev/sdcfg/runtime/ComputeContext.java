package dev.sdcfg.runtime;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;

import java.util.Locale;

/**
 * Where and in which precision a model runs. fp32 on the CPU; fp16 on CUDA by default. fp64 exists for parity
 * tests against the float64 goldens.
 */
public record ComputeContext(Device device, DataType dtype) {

    public static ComputeContext cpu() {
        return new ComputeContext(Device.cpu(), DataType.FLOAT32);
    }

    public static ComputeContext cpu(DataType dtype) {
        return new ComputeContext(Device.cpu(), dtype);
    }

    /**
     * Resolves a configured device ("auto", "cpu", "gpu", "gpu:1") and dtype ("auto", "float32", "float16",
     * "float64") to a context. "auto" picks the first GPU when the engine sees one, with fp16 there and fp32 on
     * the CPU.
     */
    public static ComputeContext resolve(String device, String dtype) {
        DjlRuntime.engine();
        Device dev = parseDevice(device == null ? "auto" : device);
        DataType dt = parseDtype(dtype == null ? "auto" : dtype, dev);
        if (dev.isGpu() && dt == DataType.FLOAT64) {
            throw new IllegalArgumentException("float64 is only supported on the CPU");
        }
        if (!dev.isGpu() && dt == DataType.FLOAT16) {
            throw new IllegalArgumentException("float16 is only supported on a GPU (CPU half-precision kernels are slow and incomplete)");
        }
        return new ComputeContext(dev, dt);
    }

    static Device parseDevice(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "auto":
                return DjlRuntime.gpuCount() > 0 ? Device.gpu() : Device.cpu();
            case "cpu":
                return Device.cpu();
            case "gpu":
            case "cuda":
                requireGpu(0);
                return Device.gpu();
            default:
                if (s.startsWith("gpu:") || s.startsWith("cuda:")) {
                    int id = Integer.parseInt(s.substring(s.indexOf(':') + 1));
                    requireGpu(id);
                    return Device.gpu(id);
                }
                throw new IllegalArgumentException("unknown device '" + spec + "' (auto, cpu, gpu, gpu:N)");
        }
    }

    private static void requireGpu(int id) {
        if (DjlRuntime.gpuCount() <= id) {
            throw new IllegalArgumentException("GPU " + id + " requested but the engine sees "
                    + DjlRuntime.gpuCount() + " GPU(s)");
        }
    }

    static DataType parseDtype(String spec, Device dev) {
        switch (spec.trim().toLowerCase(Locale.ROOT)) {
            case "auto":
                return dev.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
            case "float32":
            case "fp32":
                return DataType.FLOAT32;
            case "float16":
            case "fp16":
                return DataType.FLOAT16;
            case "float64":
            case "fp64":
                return DataType.FLOAT64;
            default:
                throw new IllegalArgumentException("unknown dtype '" + spec + "' (auto, float32, float16, float64)");
        }
    }

    @Override
    public String toString() {
        return device + "/" + dtype.name().toLowerCase(Locale.ROOT);
    }
}
