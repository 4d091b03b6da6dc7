package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Weights;

/**
 * Loads a module's parameters by checkpoint key. {@code prefix} is the module's path in the checkpoint
 * ({@code "down_blocks.0.resnets.1."}), so module code names only its local keys ({@code "conv1.weight"}) and the
 * full key stays equal to diffusers'.
 */
public record ParamLoader(Weights weights, NDManager manager, DataType dtype, String prefix) {

    public ParamLoader child(String name) {
        return new ParamLoader(weights, manager, dtype, prefix + name + ".");
    }

    public NDArray get(String local, long... expectedShape) {
        return weights.get(prefix + local, manager, dtype, expectedShape);
    }

    public boolean has(String local) {
        return weights.has(prefix + local);
    }

    public long[] shape(String local) {
        return weights.shapeOf(prefix + local);
    }

    /** Loads {@code local} if the checkpoint has it, else null (optional biases). */
    public NDArray getOptional(String local, long... expectedShape) {
        return has(local) ? get(local, expectedShape) : null;
    }
}
