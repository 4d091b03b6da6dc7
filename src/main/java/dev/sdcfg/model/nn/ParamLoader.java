package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Weights;

/**
 * Loads a module's parameters by checkpoint key: the one way every model (CLIP text encoder, UNet, VAE) reads its
 * weights. {@code prefix} is the module's path in the checkpoint ({@code "down_blocks.0.resnets.1."}), so module
 * code names only its local keys ({@code "conv1.weight"}) and the full key stays equal to diffusers'. Which tensors
 * exist follows the config, as in diffusers' constructors, not the checkpoint (the one exception: a VAE checkpoint
 * without encoder weights loads decoder-only): a missing or mis-shaped tensor fails here, and a tensor nothing
 * asked for fails {@link Weights#requireAllUsed} once the model is built.
 */
public record ParamLoader(Weights weights, NDManager manager, DataType dtype, String prefix) {

    /** The root loader of a model: full checkpoint keys. */
    public static ParamLoader root(Weights weights, NDManager manager, DataType dtype) {
        return new ParamLoader(weights, manager, dtype, "");
    }

    public ParamLoader child(String name) {
        return new ParamLoader(weights, manager, dtype, prefix + name + ".");
    }

    public NDArray get(String local, long... expectedShape) {
        return weights.get(prefix + local, manager, dtype, expectedShape);
    }

    /** A documented ignore-list entry: the checkpoint may hold {@code local}; it is known and not loaded. */
    public void ignore(String local) {
        weights.ignore(prefix + local);
    }
}
