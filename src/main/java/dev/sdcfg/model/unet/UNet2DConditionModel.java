package dev.sdcfg.model.unet;

import dev.sdcfg.runtime.ForwardScope;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.nn.Conv2dLayer;
import dev.sdcfg.model.nn.GroupNormLayer;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.runtime.HostScalars;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * diffusers' {@code UNet2DConditionModel} with the semantics SD 1.x, 2.x and SDXL configs use (see {@link UNetConfig}):
 * sinusoidal time embedding → TimestepEmbedding (plus SDXL's text_time added embedding); conv_in; down blocks (collecting skip tensors); mid block; up
 * blocks (consuming them; each upsampler follows its next skip tensor's size, so any latent size works); GroupNorm →
 * SiLU → conv_out. Module and parameter names equal the checkpoint keys; the model reads exactly the tensors the
 * config implies, and a checkpoint tensor it does not read fails the load ({@link Weights#requireAllUsed}: diffusers
 * ignores no UNet key either).
 *
 * <p>Weights live in this model's own {@link NDManager} on {@code ctx.device()} in {@code ctx.dtype()}. Each forward
 * runs inside an {@link NDScope}: its intermediates are closed when it returns; the result is attached to the
 * manager of {@code sample}, registered with the caller's enclosing NDScope (if any) and owned by the caller.
 */
public final class UNet2DConditionModel implements AutoCloseable {

    private final UNetConfig config;
    private final ComputeContext ctx;
    private final NDManager manager;
    private final int attentionSliceSize;
    private final int parameterCount;

    private final Timesteps timeProj;
    private final TimestepEmbedding timeEmbedding;
    private final Conv2dLayer convIn;
    private final DownBlock[] downBlocks;
    private final MidBlock midBlock;
    /** SDXL's text_time conditioning: add_time_proj (sinusoids of the time ids) and add_embedding; or null. */
    private final Timesteps addTimeProj;
    private final TimestepEmbedding addEmbedding;
    /** diffusers' encoder_hid_proj ("text_proj"), or null. */
    private final LinearLayer encoderHidProj;
    private final UpBlock[] upBlocks;
    private final GroupNormLayer convNormOut;
    private final Conv2dLayer convOut;

    /**
     * Loads {@code unetDir/config.json} and its safetensors weights.
     *
     * @param variant            weight variant to prefer ("fp16" → {@code *.fp16.safetensors}), or null
     * @param attentionSliceSize attention slicing: that many batch·head rows per score matrix; 0 = off
     */
    public static UNet2DConditionModel load(Path unetDir, ComputeContext ctx, String variant, int attentionSliceSize) {
        JsonConfig cfg = JsonConfig.read(unetDir.resolve("config.json"));
        UNetConfig parsed = UNetConfig.from(cfg); // fail on the config before touching the weights
        try (Weights w = Weights.openComponent(unetDir, variant)) {
            return new UNet2DConditionModel(parsed, w, ctx, attentionSliceSize);
        }
    }

    public UNet2DConditionModel(UNetConfig c, Weights weights, ComputeContext ctx, int attentionSliceSize) {
        if (attentionSliceSize < 0) {
            throw new IllegalArgumentException("attention slice size must be >= 0, got " + attentionSliceSize);
        }
        if (ctx.dtype() == DataType.BFLOAT16) {
            throw new IllegalArgumentException("bfloat16 is not supported by DJL's PyTorch engine; use float16");
        }
        this.config = c;
        this.ctx = ctx;
        this.attentionSliceSize = attentionSliceSize;
        DjlRuntime.engine();
        this.manager = NDManager.newBaseManager(ctx.device());
        manager.setName("unet");
        try {
            ParamLoader p = ParamLoader.root(weights, manager, ctx.dtype());
            int n = c.numBlocks();
            List<Integer> ch = c.blockOutChannels();
            List<Integer> heads = c.numAttentionHeads();
            List<Integer> cross = c.crossAttentionDims();
            int c0 = ch.get(0);
            BlockSettings s = new BlockSettings(c.timeEmbedDim(), c.normNumGroups(), c.normEps(),
                    c.resnetTimeScaleShift(), c.useLinearProjection(), c.upcastAttention(), attentionSliceSize);

            this.convIn = new Conv2dLayer(p.child("conv_in"), c.inChannels(), c0, c.convInKernel(), 1,
                    (c.convInKernel() - 1) / 2);
            this.timeProj = new Timesteps(manager, c0, c.flipSinToCos(), c.freqShift());
            this.timeEmbedding = new TimestepEmbedding(p.child("time_embedding"), c0, c.timeEmbedDim(),
                    c.timestepPostAct());
            UNetConfig.TextTimeConfig add = c.addition();
            this.addTimeProj = add == null ? null : new Timesteps(manager, add.timeEmbedDim(), c.flipSinToCos(),
                    c.freqShift());
            this.addEmbedding = add == null ? null
                    : new TimestepEmbedding(p.child("add_embedding"), add.inputDim(), c.timeEmbedDim());
            this.encoderHidProj = c.encoderHidDim() > 0
                    ? new LinearLayer(p.child("encoder_hid_proj"), c.encoderHidDim(), c.crossAttentionDim()) : null;

            this.downBlocks = new DownBlock[n];
            int outCh = c0;
            for (int i = 0; i < n; i++) {
                int inCh = outCh;
                outCh = ch.get(i);
                boolean last = i == n - 1;
                ParamLoader bp = p.child("down_blocks." + i);
                if (UNetConfig.CROSS_ATTN_DOWN.equals(c.downBlockTypes().get(i))) {
                    int[] depths = ints(c.downTransformerLayers().get(i));
                    downBlocks[i] = new CrossAttnDownBlock2D(bp, inCh, outCh, c.layersPerBlock().get(i), depths,
                            heads.get(i), cross.get(i), c.onlyCrossAttention().get(i), !last, c.downsamplePadding(), s);
                } else {
                    downBlocks[i] = new DownBlock2D(bp, inCh, outCh, c.layersPerBlock().get(i), !last,
                            c.downsamplePadding(), s);
                }
            }

            if (c.midBlockType() == null) {
                this.midBlock = null;
            } else if (UNetConfig.MID_PLAIN.equals(c.midBlockType())) {
                this.midBlock = new UNetMidBlock2D(p.child("mid_block"), ch.get(n - 1), c.midBlockScaleFactor(), s);
            } else {
                this.midBlock = new UNetMidBlock2DCrossAttn(p.child("mid_block"), ch.get(n - 1),
                        c.midTransformerLayers(), heads.get(n - 1), cross.get(n - 1), c.midBlockScaleFactor(), s);
            }

            this.upBlocks = new UpBlock[n];
            outCh = ch.get(n - 1);
            for (int i = 0; i < n; i++) {
                int r = n - 1 - i; // reversed index into the per-block lists
                boolean last = i == n - 1;
                int prevOut = outCh;
                outCh = ch.get(r);
                int inCh = ch.get(Math.max(r - 1, 0));
                int layers = c.layersPerBlock().get(r) + 1;
                ParamLoader bp = p.child("up_blocks." + i);
                if (UNetConfig.CROSS_ATTN_UP.equals(c.upBlockTypes().get(i))) {
                    int[] depths = ints(c.upTransformerLayers().get(i));
                    upBlocks[i] = new CrossAttnUpBlock2D(bp, inCh, prevOut, outCh, layers, depths, heads.get(r),
                            cross.get(r), c.onlyCrossAttention().get(r), !last, s);
                } else {
                    upBlocks[i] = new UpBlock2D(bp, inCh, prevOut, outCh, layers, !last, s);
                }
            }

            this.convNormOut = new GroupNormLayer(p.child("conv_norm_out"), c.normNumGroups(), c0, c.normEps());
            this.convOut = new Conv2dLayer(p.child("conv_out"), c0, c.outChannels(), c.convOutKernel(), 1,
                    (c.convOutKernel() - 1) / 2);

            // Weights must outlive any NDScope the caller may have open while loading.
            List<NDArray> owned = manager.getManagedArrays();
            for (NDArray a : owned) {
                NDScope.unregister(a);
            }
            weights.requireAllUsed(c.source() + " does not describe this checkpoint (check block_out_channels,"
                    + " layers_per_block, down_block_types, up_block_types, mid_block_type,"
                    + " transformer_layers_per_block, encoder_hid_dim, addition_embed_type)");
            this.parameterCount = weights.keys().size();
        } catch (RuntimeException e) {
            manager.close();
            if (e instanceof ModelLoadException) {
                throw e;
            }
            throw new ModelLoadException(c.source() + ": cannot build the UNet: " + e.getMessage(), e);
        }
    }

    public UNetConfig config() {
        return config;
    }

    public ComputeContext context() {
        return ctx;
    }

    public int attentionSliceSize() {
        return attentionSliceSize;
    }

    /** Number of weight tensors loaded from the checkpoint (all it holds; 0 for synthetic weights). */
    public int parameterCount() {
        return parameterCount;
    }

    /** The manager that owns the weights (for memory accounting). */
    public NDManager manager() {
        return manager;
    }

    /**
     * The noise (or v) prediction for {@code sample}.
     *
     * @param sample              latents [B, in_channels, H, W]
     * @param timestep            0-dim or [B] (or [1]), int64 or floating; diffusers casts it to fp32
     * @param encoderHiddenStates text embeddings [B, tokens, cross_attention_dim]
     * @return [B, out_channels, H, W] in the model dtype, attached to {@code sample}'s manager (and registered with
     *     the caller's NDScope, if one is open)
     */
    public NDArray forward(NDArray sample, NDArray timestep, NDArray encoderHiddenStates) {
        return forward(sample, timestep, encoderHiddenStates, null);
    }

    /**
     * {@link #forward(NDArray, NDArray, NDArray)} that also records named intermediates into {@code record} (when
     * not null): {@code time_proj} (sinusoidal, cast to the model dtype), {@code time_embedding}, {@code conv_in}, {@code down_blocks.K}, {@code mid_block},
     * {@code up_blocks.K}, {@code conv_norm_out} (GroupNorm only, before SiLU), {@code conv_out}. Recorded arrays
     * survive the forward and belong to the caller.
     */
    public NDArray forward(NDArray sample, NDArray timestep, NDArray encoderHiddenStates, Map<String, NDArray> record) {
        return forward(sample, timestep, encoderHiddenStates, null, null, record);
    }

    /**
     * The forward of a UNet with SDXL's text_time conditioning (diffusers' {@code added_cond_kwargs}); both are
     * null for a UNet without it. Also records {@code add_time_proj} ([B·6, addition_time_embed_dim], fp32) and
     * {@code add_embedding} when {@code record} is given.
     *
     * @param textEmbeds [B, text_embeds width] pooled text embeddings (text_encoder_2's text_embeds)
     * @param timeIds    [B, 6] original size (h, w), crop top-left (y, x), target size (h, w), any float dtype
     */
    public NDArray forward(NDArray sample, NDArray timestep, NDArray encoderHiddenStates, NDArray textEmbeds,
                           NDArray timeIds, Map<String, NDArray> record) {
        Shape ss = sample.getShape();
        if (ss.dimension() != 4 || ss.get(1) != config.inChannels()) {
            throw new IllegalArgumentException("sample must be [B, " + config.inChannels() + ", H, W], got " + ss);
        }
        long b = ss.get(0);
        Shape es = encoderHiddenStates.getShape();
        if (es.dimension() != 3 || es.get(0) != b || es.get(2) != config.contextDim()) {
            throw new IllegalArgumentException("encoder_hidden_states must be [" + b + ", tokens, "
                    + config.contextDim() + "], got " + es);
        }
        long tn = timestep.getShape().size();
        if (timestep.getShape().dimension() > 1 || (tn != 1 && tn != b)) {
            throw new IllegalArgumentException("timestep must be 0-dim, [1] or [" + b + "], got " + timestep.getShape());
        }
        checkAddition(b, textEmbeds, timeIds);
        List<NDArray> recorded = new ArrayList<>();
        NDArray out;
        try (NDScope scope = new ForwardScope()) {
            scope.suppressNotUsedWarning();
            NDArray x = toModel(sample);
            NDArray context = toModel(encoderHiddenStates);
            if (config.centerInputSample()) {
                x = HostScalars.sub(HostScalars.mul(x, 2), 1);
            }

            // 1. time: diffusers expands the timestep to the batch, embeds in fp32, then casts to the model dtype
            NDArray t = timestep.getDevice().equals(ctx.device()) ? timestep : timestep.toDevice(ctx.device(), false);
            if (t.getShape().dimension() != 1 || tn != b) {
                t = t.reshape(1);
                if (b > 1) {
                    t = t.broadcast(b);
                }
            }
            NDArray tEmb = timeProj.forward(t).toType(ctx.dtype(), false);
            keep(record, recorded, "time_proj", tEmb);
            NDArray emb = timeEmbedding.forward(tEmb);
            keep(record, recorded, "time_embedding", emb);
            if (addEmbedding != null) {
                // diffusers' get_aug_embed("text_time"): sinusoids of the flattened time ids (fp32, then the model
                // dtype, as torch's promotion and .to(emb.dtype) leave them), after the pooled text embeds
                NDArray timeEmbeds = addTimeProj.forward(toDevice(timeIds).reshape(-1));
                keep(record, recorded, "add_time_proj", timeEmbeds);
                NDArray addEmbeds = NDArrays.concat(new NDList(toModel(textEmbeds),
                        timeEmbeds.toType(ctx.dtype(), false).reshape(b, -1)), 1);
                NDArray aug = addEmbedding.forward(addEmbeds);
                keep(record, recorded, "add_embedding", aug);
                emb = emb.add(aug);
            }
            if (config.timeEmbeddingActFn() != null) {
                emb = Activations.apply(config.timeEmbeddingActFn(), emb); // diffusers' time_embed_act
            }
            if (encoderHidProj != null) {
                context = encoderHidProj.forward(context); // diffusers' encoder_hid_proj ("text_proj")
            }
            NDArray tembAct = Ops.silu(emb); // every resnet applies SiLU to temb first: do it once

            // 2. pre-process
            NDArray h = convIn.forward(x);
            keep(record, recorded, "conv_in", h);

            // 3. down
            List<NDArray> skips = new ArrayList<>();
            skips.add(h);
            for (int i = 0; i < downBlocks.length; i++) {
                h = downBlocks[i].forward(h, tembAct, context, skips);
                keep(record, recorded, "down_blocks." + i, h);
            }

            // 4. mid
            if (midBlock != null) {
                h = midBlock.forward(h, tembAct, context);
                keep(record, recorded, "mid_block", h);
            }

            // 5. up: each upsampler targets the size of the skip tensor the next block starts with
            for (int i = 0; i < upBlocks.length; i++) {
                UpBlock up = upBlocks[i];
                long upH = -1;
                long upW = -1;
                if (up.hasUpsampler()) {
                    int next = skips.size() - up.numResnets() - 1;
                    if (next < 0) {
                        throw new IllegalStateException("up_blocks." + i + " has no skip tensor to size its upsampler");
                    }
                    Shape target = skips.get(next).getShape();
                    upH = target.get(2);
                    upW = target.get(3);
                }
                h = up.forward(h, skips, tembAct, context, upH, upW);
                keep(record, recorded, "up_blocks." + i, h);
            }

            // 6. post-process
            h = convNormOut.forward(h);
            keep(record, recorded, "conv_norm_out", h);
            out = convOut.forward(Ops.silu(h));
            keep(record, recorded, "conv_out", out);
            NDScope.unregister(out);
            for (NDArray r : recorded) {
                NDScope.unregister(r);
            }
        }
        // Like any op result, the output belongs to the caller's enclosing NDScope, if there is one.
        NDScope.register(out);
        for (NDArray r : recorded) {
            NDScope.register(r);
        }
        return out;
    }

    private void checkAddition(long b, NDArray textEmbeds, NDArray timeIds) {
        UNetConfig.TextTimeConfig add = config.addition();
        if (add == null) {
            if (textEmbeds != null || timeIds != null) {
                throw new IllegalArgumentException("this UNet has no added conditioning (addition_embed_type null)");
            }
            return;
        }
        if (textEmbeds == null || timeIds == null) {
            throw new IllegalArgumentException("this UNet's addition_embed_type text_time needs text_embeds and"
                    + " time_ids");
        }
        Shape te = textEmbeds.getShape();
        Shape ti = timeIds.getShape();
        if (te.dimension() != 2 || te.get(0) != b || te.get(1) != add.textEmbedsDim()) {
            throw new IllegalArgumentException("text_embeds must be [" + b + ", " + add.textEmbedsDim() + "], got " + te);
        }
        if (ti.dimension() != 2 || ti.get(0) != b || ti.get(1) != UNetConfig.TextTimeConfig.TIME_IDS) {
            throw new IllegalArgumentException("time_ids must be [" + b + ", 6], got " + ti);
        }
    }

    private static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void keep(Map<String, NDArray> record, List<NDArray> recorded, String name, NDArray a) {
        if (record != null) {
            record.put(name, a);
            recorded.add(a);
        }
    }

    private NDArray toModel(NDArray a) {
        return toDevice(a).toType(ctx.dtype(), false);
    }

    private NDArray toDevice(NDArray a) {
        return a.getDevice().equals(ctx.device()) ? a : a.toDevice(ctx.device(), false);
    }

    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return "UNet2DConditionModel[" + config + ", " + ctx + "]";
    }
}
