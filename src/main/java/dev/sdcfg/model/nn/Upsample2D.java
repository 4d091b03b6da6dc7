package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers Upsample2D with a conv: nearest-neighbour upsampling (×2, or to an explicit size so the UNet can
 * follow its skip tensor's size for latents whose side is not a power of two) then a 3×3 conv.
 */
public final class Upsample2D {
    private final Conv2dLayer conv;

    public Upsample2D(ParamLoader p, long channels, long out) {
        this.conv = new Conv2dLayer(p.child("conv"), channels, out, 3, 1, 1);
    }

    /** @param height target height or ≤0 for ×2; @param width target width or ≤0 for ×2 */
    public NDArray forward(NDArray x, long height, long width) {
        Shape s = x.getShape();
        long h = height > 0 ? height : s.get(2) * 2;
        long w = width > 0 ? width : s.get(3) * 2;
        NDArray up = x.getNDArrayInternal().interpolation(new long[] {h, w}, 0, false);
        return conv.forward(up);
    }
}
