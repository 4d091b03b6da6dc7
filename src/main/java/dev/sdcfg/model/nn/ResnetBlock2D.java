package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.runtime.HostScalars;

/**
 * diffusers ResnetBlock2D: norm1 → SiLU → conv1 (+ time embedding) → norm2 → SiLU → conv2, plus the
 * (optionally 1×1-projected) shortcut, divided by output_scale_factor. {@code timeEmbChannels} ≤ 0 means no
 * time embedding (VAE). time_embedding_norm "default" adds the projected embedding; "scale_shift" applies it
 * as norm2(h)·(1+scale)+shift.
 */
public final class ResnetBlock2D {
    private final GroupNormLayer norm1;
    private final Conv2dLayer conv1;
    private final LinearLayer timeEmbProj;
    private final GroupNormLayer norm2;
    private final Conv2dLayer conv2;
    private final Conv2dLayer convShortcut;
    private final boolean scaleShift;
    private final double outputScaleFactor;
    private final long outChannels;

    public ResnetBlock2D(ParamLoader p, long in, long out, long timeEmbChannels, int groups, double eps,
                         String timeEmbeddingNorm, double outputScaleFactor) {
        this.norm1 = new GroupNormLayer(p.child("norm1"), groups, in, eps);
        this.conv1 = new Conv2dLayer(p.child("conv1"), in, out, 3, 1, 1);
        this.scaleShift = "scale_shift".equals(timeEmbeddingNorm);
        if (!scaleShift && !"default".equals(timeEmbeddingNorm)) {
            throw new ModelLoadException(p.prefix() + ": unsupported resnet_time_scale_shift '" + timeEmbeddingNorm + "'");
        }
        this.timeEmbProj = timeEmbChannels > 0
                ? new LinearLayer(p.child("time_emb_proj"), timeEmbChannels, scaleShift ? 2 * out : out) : null;
        this.norm2 = new GroupNormLayer(p.child("norm2"), groups, out, eps);
        this.conv2 = new Conv2dLayer(p.child("conv2"), out, out, 3, 1, 1);
        // diffusers: use_in_shortcut defaults to in != out, and no SD block passes it
        this.convShortcut = in != out ? new Conv2dLayer(p.child("conv_shortcut"), in, out, 1, 1, 0) : null;
        this.outputScaleFactor = outputScaleFactor;
        this.outChannels = out;
    }

    /** @param tembAct SiLU(time embedding) [B, T] (computed once per forward by the caller), or null */
    public NDArray forward(NDArray x, NDArray tembAct) {
        NDArray h = conv1.forward(Ops.silu(norm1.forward(x)));
        if (timeEmbProj != null && tembAct != null) {
            NDArray proj = timeEmbProj.forward(tembAct);
            NDArray t = proj.reshape(proj.getShape().get(0), proj.getShape().get(1), 1, 1);
            if (scaleShift) {
                NDArray scale = t.get(":, 0:" + outChannels);
                NDArray shift = t.get(":, " + outChannels + ":");
                h = norm2.forward(h).mul(HostScalars.add(scale, 1)).add(shift);
            } else {
                h = norm2.forward(h.add(t));
            }
        } else {
            h = norm2.forward(h);
        }
        h = conv2.forward(Ops.silu(h));
        NDArray shortcut = convShortcut != null ? convShortcut.forward(x) : x;
        NDArray out = shortcut.add(h);
        return outputScaleFactor == 1.0 ? out : HostScalars.div(out, outputScaleFactor);
    }

    public long outChannels() {
        return outChannels;
    }
}
