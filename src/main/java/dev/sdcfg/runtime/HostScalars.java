package dev.sdcfg.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.util.function.BinaryOperator;

/**
 * Arithmetic with a Java number that never copies the number to the GPU.
 *
 * <p>DJL's {@code Number} overloads ({@code x.mul(0.5)}) create the number as a tensor on {@code x}'s device: on
 * CUDA that is a pageable host→device copy, which PyTorch follows with a stream synchronisation, so every such call
 * stalls the host until the GPU has drained its queue. A 0-dim <em>CPU</em> tensor as the second operand is what
 * PyTorch calls a CPU scalar: TensorIterator reads it on the host and passes it to the kernel as an argument, at the
 * kernel's math precision (float for fp16/fp32 tensors) — exactly what a Python float gives in diffusers. On the
 * CPU nothing changes: DJL's overloads make the same float64 0-dim CPU tensor.
 *
 * <p>The scalar is always the second operand (results attach to the first operand's manager) and is closed as
 * soon as the operation is issued: the kernel launch has already read its value.
 */
public final class HostScalars {

    private HostScalars() {
    }

    private static final class Cpu {
        static final NDManager MANAGER = DjlRuntime.engine().newBaseManager(Device.cpu());
    }

    /** A float64 0-dim CPU tensor holding {@code v}; the caller closes it. */
    private static NDArray of(double v) {
        return Cpu.MANAGER.create(v);
    }

    /**
     * {@code v} as a 0-dim CPU tensor for an operation with {@code x}: float32 for float32/float16 tensors, float64
     * otherwise. PyTorch reads a CPU scalar for such tensors as a float (their math type), so a float32 scalar gives
     * the same result as a float64 one, without the cast of the scalar that a dtype mismatch costs per call.
     */
    static NDArray like(NDArray x, double v) {
        DataType t = x.getDataType();
        return t == DataType.FLOAT32 || t == DataType.FLOAT16 ? Cpu.MANAGER.create((float) v) : of(v);
    }

    /** {@code x * c}. */
    public static NDArray mul(NDArray x, double c) {
        return withScalar(x, c, NDArray::mul);
    }

    /** {@code x / c}. */
    public static NDArray div(NDArray x, double c) {
        return withScalar(x, c, NDArray::div);
    }

    /** {@code x + c}. */
    public static NDArray add(NDArray x, double c) {
        return withScalar(x, c, NDArray::add);
    }

    /** {@code x - c}. */
    public static NDArray sub(NDArray x, double c) {
        return withScalar(x, c, NDArray::sub);
    }

    private static NDArray withScalar(NDArray x, double c, BinaryOperator<NDArray> op) {
        try (NDArray s = like(x, c)) {
            return op.apply(x, s);
        }
    }
}
