package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Conv2dLayer;
import dev.sdcfg.model.nn.GroupNormLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;

import java.util.function.BiConsumer;

/**
 * diffusers {@code Encoder} (double_z): conv_in → down blocks (downsampling except the last) → mid block →
 * GroupNorm → SiLU → conv_out to 2 × latent channels (mean and logvar).
 */
final class VaeEncoder {
    private final Conv2dLayer convIn;
    private final DownEncoderBlock[] downBlocks;
    private final VaeMidBlock midBlock;
    private final GroupNormLayer convNormOut;
    private final Conv2dLayer convOut;

    VaeEncoder(ParamLoader p, VaeConfig cfg) {
        int[] ch = cfg.blockOutChannels();
        int groups = cfg.normNumGroups();
        this.convIn = new Conv2dLayer(p.child("conv_in"), cfg.inChannels(), ch[0], 3, 1, 1);
        this.downBlocks = new DownEncoderBlock[ch.length];
        long out = ch[0];
        for (int i = 0; i < ch.length; i++) {
            long in = out;
            out = ch[i];
            downBlocks[i] = new DownEncoderBlock(p.child("down_blocks." + i), in, out, cfg.layersPerBlock(), groups,
                    i < ch.length - 1);
        }
        long last = ch[ch.length - 1];
        this.midBlock = new VaeMidBlock(p.child("mid_block"), last, groups, cfg.midBlockAddAttention());
        this.convNormOut = new GroupNormLayer(p.child("conv_norm_out"), groups, last, AutoencoderKL.EPS);
        this.convOut = new Conv2dLayer(p.child("conv_out"), last, 2L * cfg.latentChannels(), 3, 1, 1);
    }

    NDArray forward(NDArray x, String name, BiConsumer<String, NDArray> tap) {
        NDArray h = AutoencoderKL.tap(tap, name + ".conv_in", convIn.forward(x));
        for (int i = 0; i < downBlocks.length; i++) {
            String block = name + ".down_blocks." + i;
            h = AutoencoderKL.tap(tap, block, downBlocks[i].forward(h, block, tap));
        }
        h = AutoencoderKL.tap(tap, name + ".mid_block", midBlock.forward(h, name + ".mid_block", tap));
        h = AutoencoderKL.tap(tap, name + ".conv_norm_out", convNormOut.forward(h));
        h = AutoencoderKL.tap(tap, name + ".conv_act", Ops.silu(h));
        return AutoencoderKL.tap(tap, name + ".conv_out", convOut.forward(h));
    }
}
