package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers Downsample2D with a conv: 3×3 stride 2. With padding 0 (the VAE encoder) the input is first padded
 * by one pixel on the right and bottom, as diffusers does.
 */
public final class Downsample2D {
    private final Conv2dLayer conv;
    private final boolean asymmetricPad;

    public Downsample2D(ParamLoader p, long channels, long out, int padding) {
        this.conv = new Conv2dLayer(p.child("conv"), channels, out, 3, 2, padding);
        this.asymmetricPad = padding == 0;
    }

    public NDArray forward(NDArray x) {
        NDArray in = asymmetricPad ? x.pad(new Shape(0, 1, 0, 1), 0) : x;
        return conv.forward(in);
    }
}
