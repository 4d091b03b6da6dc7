package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Conv2dLayer;
import dev.sdcfg.model.nn.GroupNormLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;

import java.util.function.BiConsumer;

/**
 * diffusers {@code Decoder} (norm_type "group"): conv_in → mid block → up blocks over the reversed channel list,
 * each with layers_per_block + 1 resnets and a ×2 upsampler except the last → GroupNorm → SiLU → conv_out.
 */
final class VaeDecoder {
    private final Conv2dLayer convIn;
    private final VaeMidBlock midBlock;
    private final UpDecoderBlock[] upBlocks;
    private final GroupNormLayer convNormOut;
    private final Conv2dLayer convOut;

    VaeDecoder(ParamLoader p, VaeConfig cfg) {
        int[] ch = cfg.blockOutChannels();
        int n = ch.length;
        int groups = cfg.normNumGroups();
        long top = ch[n - 1];
        this.convIn = new Conv2dLayer(p.child("conv_in"), cfg.latentChannels(), top, 3, 1, 1);
        this.midBlock = new VaeMidBlock(p.child("mid_block"), top, groups, cfg.midBlockAddAttention());
        this.upBlocks = new UpDecoderBlock[n];
        long out = top;
        for (int i = 0; i < n; i++) {
            long in = out;
            out = ch[n - 1 - i];
            upBlocks[i] = new UpDecoderBlock(p.child("up_blocks." + i), in, out, cfg.layersPerBlock() + 1, groups,
                    i < n - 1);
        }
        this.convNormOut = new GroupNormLayer(p.child("conv_norm_out"), groups, ch[0], AutoencoderKL.EPS);
        this.convOut = new Conv2dLayer(p.child("conv_out"), ch[0], cfg.outChannels(), 3, 1, 1);
    }

    NDArray forward(NDArray z, String name, BiConsumer<String, NDArray> tap) {
        NDArray h = AutoencoderKL.tap(tap, name + ".conv_in", convIn.forward(z));
        h = AutoencoderKL.tap(tap, name + ".mid_block", midBlock.forward(h, name + ".mid_block", tap));
        for (int i = 0; i < upBlocks.length; i++) {
            String block = name + ".up_blocks." + i;
            h = AutoencoderKL.tap(tap, block, upBlocks[i].forward(h, block, tap));
        }
        h = AutoencoderKL.tap(tap, name + ".conv_norm_out", convNormOut.forward(h));
        h = AutoencoderKL.tap(tap, name + ".conv_act", Ops.silu(h));
        return AutoencoderKL.tap(tap, name + ".conv_out", convOut.forward(h));
    }
}
