package dev.sdcfg.model.vae;

import dev.sdcfg.runtime.ForwardScope;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.nn.Conv2dLayer;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;

import java.nio.file.Path;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * diffusers {@code AutoencoderKL} (the Stable Diffusion VAE) on DJL: {@link #decode} maps latents
 * [B, latent, h, w] to images [B, out, 8h, 8w] (for four levels) in about [−1, 1]; {@link #encodeMoments} maps
 * images to the stacked mean and logvar of the latent distribution.
 *
 * <p>Both are raw: no {@code scaling_factor}/{@code shift_factor} is applied; the pipeline decodes
 * {@code latents / scalingFactor()} (diffusers' StableDiffusionPipeline never applies {@code shift_factor}).
 * Weights live in this model's own {@link NDManager} in the
 * {@link ComputeContext} it was loaded with, which may differ from the UNet's: diffusers runs a
 * {@link #forceUpcast()} VAE in float32 when the pipeline is float16 ({@link #contextFor}). Inputs of another
 * float type or device are converted to the model's. Each call runs in an {@link NDScope}: only the result
 * survives, attached to the input's manager.
 *
 * <p>Older checkpoints name the mid-block attention projections {@code query}/{@code key}/{@code value}/
 * {@code proj_attn} and may store them as 1×1 conv weights; both load. The checkpoint decides only whether there
 * is an encoder (decoder-only checkpoints load); everything else follows the config, and a tensor the config does
 * not account for fails the load (diffusers ignores no AutoencoderKL key either). Not a thread-safe object: one
 * thread (the worker that owns the model) calls it.
 */
public final class AutoencoderKL implements AutoCloseable {

    /** The epsilon diffusers' VAE uses for every GroupNorm. */
    static final double EPS = 1e-6;

    private final VaeConfig config;
    private final ComputeContext ctx;
    private final NDManager manager;
    private final VaeEncoder encoder;
    private final Conv2dLayer quantConv;
    private final Conv2dLayer postQuantConv;
    private final VaeDecoder decoder;

    private AutoencoderKL(VaeConfig config, ComputeContext ctx, NDManager manager, VaeEncoder encoder,
                          Conv2dLayer quantConv, Conv2dLayer postQuantConv, VaeDecoder decoder) {
        this.config = config;
        this.ctx = ctx;
        this.manager = manager;
        this.encoder = encoder;
        this.quantConv = quantConv;
        this.postQuantConv = postQuantConv;
        this.decoder = decoder;
    }

    /**
     * Loads {@code vaeDir} ({@code config.json} + safetensors weights; {@code variant} "fp16" prefers
     * {@code *.fp16.safetensors}) onto {@code ctx}'s device in {@code ctx}'s dtype. The encoder is loaded when
     * the checkpoint has it (decoder-only checkpoints load too; {@link #encodeMoments} then fails).
     *
     * @throws ModelLoadException for an unsupported config value, a missing or mis-shaped tensor, or checkpoint
     *                            tensors the config does not account for; the message names file and key
     */
    public static AutoencoderKL load(Path vaeDir, ComputeContext ctx, String variant) {
        VaeConfig cfg = VaeConfig.read(vaeDir.resolve("config.json"));
        try (Weights w = Weights.openComponent(vaeDir, variant)) {
            return create(cfg, w, ctx);
        }
    }

    /** Builds the VAE from a config and weights (file-backed or {@link Weights#synthetic} for benchmarks). */
    public static AutoencoderKL create(VaeConfig cfg, Weights weights, ComputeContext ctx) {
        if (ctx.dtype() != DataType.FLOAT32 && ctx.dtype() != DataType.FLOAT16 && ctx.dtype() != DataType.FLOAT64) {
            throw new IllegalArgumentException("the VAE runs in float16, float32 or float64, not " + ctx.dtype());
        }
        NDManager m = DjlRuntime.engine().newBaseManager(ctx.device());
        m.setName("vae");
        Weights w = weights.withAliases(AutoencoderKL::legacyAliases);
        try (NDScope scope = new NDScope()) {
            ParamLoader root = ParamLoader.root(w, m, ctx.dtype());
            VaeEncoder enc = null;
            Conv2dLayer quant = null;
            if (w.has("encoder.conv_in.weight")) {
                enc = new VaeEncoder(root.child("encoder"), cfg);
                if (cfg.useQuantConv()) {
                    long c2 = 2L * cfg.latentChannels();
                    quant = new Conv2dLayer(root.child("quant_conv"), c2, c2, 1, 1, 0);
                }
            } else {
                // The ignore list: a decoder-only checkpoint may keep quant_conv, which only the encoder's output
                // goes through.
                root.ignore("quant_conv.weight");
                root.ignore("quant_conv.bias");
            }
            Conv2dLayer postQuant = cfg.usePostQuantConv() ? new Conv2dLayer(root.child("post_quant_conv"),
                    cfg.latentChannels(), cfg.latentChannels(), 1, 1, 0) : null;
            VaeDecoder dec = new VaeDecoder(root.child("decoder"), cfg);
            w.requireAllUsed(cfg.source() + " does not describe this checkpoint (check layers_per_block,"
                    + " block_out_channels, use_quant_conv, use_post_quant_conv, mid_block_add_attention)");
            // The weights were created while this scope was open: keep them, drop only loading temporaries.
            for (NDArray a : m.getManagedArrays()) {
                NDScope.unregister(a);
            }
            return new AutoencoderKL(cfg, ctx, m, enc, quant, postQuant, dec);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The context to load a VAE in for a pipeline running in {@code pipeline}: float32 instead of float16 when
     * the config says {@code force_upcast} (as diffusers' pipelines do), otherwise the pipeline's own.
     */
    public static ComputeContext contextFor(VaeConfig config, ComputeContext pipeline) {
        if (config.forceUpcast() && pipeline.dtype() == DataType.FLOAT16) {
            return new ComputeContext(pipeline.device(), DataType.FLOAT32);
        }
        return pipeline;
    }

    /** Old diffusers (AttentionBlock) names for the mid-block attention projections. */
    static List<String> legacyAliases(String key) {
        int at = key.indexOf(".mid_block.attentions.");
        if (at < 0) {
            return List.of();
        }
        String[][] renames = {{".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."},
                {".to_out.0.", ".proj_attn."}};
        for (String[] r : renames) {
            int i = key.indexOf(r[0], at);
            if (i >= 0) {
                return List.of(key.substring(0, i) + r[1] + key.substring(i + r[0].length()));
            }
        }
        return List.of();
    }

    /** Raw decode (diffusers {@code vae.decode(z).sample}): no scaling or shift is applied to {@code latents}. */
    public NDArray decode(NDArray latents) {
        return decode(latents, null);
    }

    /**
     * {@link #decode(NDArray)} that also hands each named intermediate to {@code tap} as it is computed (names
     * are diffusers' module paths under the AutoencoderKL: {@code post_quant_conv}, {@code decoder.conv_in},
     * {@code decoder.mid_block}, {@code decoder.mid_block.attentions.0}, {@code decoder.up_blocks.K},
     * {@code decoder.up_blocks.K.resnets.J}, {@code decoder.conv_norm_out} (GroupNorm only), {@code decoder.conv_act},
     * {@code decoder.conv_out}). The tapped arrays are closed when the call ends: copy what you keep.
     */
    public NDArray decode(NDArray latents, BiConsumer<String, NDArray> tap) {
        Shape s = latents.getShape();
        if (s.dimension() != 4 || s.get(1) != config.latentChannels()) {
            throw new IllegalArgumentException("latents must be [B, " + config.latentChannels() + ", h, w], got " + s);
        }
        try (NDScope scope = new ForwardScope()) {
            NDArray z = toModel(latents);
            if (postQuantConv != null) {
                z = tap(tap, "post_quant_conv", postQuantConv.forward(z));
            }
            NDArray out = decoder.forward(z, "decoder", tap);
            NDScope.unregister(out);
            return out;
        }
    }

    /** diffusers' {@code tile_overlap_factor}. */
    static final double TILE_OVERLAP = 0.25;

    /**
     * diffusers' {@code AutoencoderKL.tiled_decode} (what {@code enable_vae_tiling()} switches on): the latents are
     * cut into tiles of {@code tileLatent}² cells that overlap by a quarter, each tile is decoded on its own (so
     * the decoder's activations are those of one tile), and the decoded tiles are blended over the overlap
     * ({@code blend_v}, then {@code blend_h}, in place and in diffusers' order) and cropped. Latents no larger
     * than one tile are decoded whole, as diffusers does. The blending runs on the host in float32, once per
     * image after the denoising loop; the result is a float32 array on the latents' manager. Tiled images differ
     * from whole ones (each tile has its own GroupNorm statistics), exactly as they do in diffusers.
     */
    public NDArray tiledDecode(NDArray latents, int tileLatent) {
        return tiledDecode(latents, tileLatent, downscaleFactor(), this::decode);
    }

    /** {@link #tiledDecode(NDArray, int)} with the per-tile decoder given (tests use a local stand-in). */
    static NDArray tiledDecode(NDArray z, int tileLatent, int factor,
                               java.util.function.UnaryOperator<NDArray> decodeTile) {
        Shape s = z.getShape();
        long h = s.get(2);
        long w = s.get(3);
        if (h <= tileLatent && w <= tileLatent) {
            return decodeTile.apply(z);
        }
        int overlap = (int) (tileLatent * (1 - TILE_OVERLAP));
        int tileSample = tileLatent * factor;
        int blend = (int) (tileSample * TILE_OVERLAP);
        int rowLimit = tileSample - blend;
        java.util.List<java.util.List<Tile>> rows = new java.util.ArrayList<>();
        for (long i = 0; i < h; i += overlap) {
            java.util.List<Tile> row = new java.util.ArrayList<>();
            for (long j = 0; j < w; j += overlap) {
                NDArray part = z.get(":, :, " + i + ":" + Math.min(h, i + tileLatent) + ", " + j + ":"
                        + Math.min(w, j + tileLatent));
                NDArray dec = decodeTile.apply(part);
                NDArray f32 = dec.toType(DataType.FLOAT32, false);
                Shape ds = f32.getShape();
                row.add(new Tile(f32.toFloatArray(), (int) (ds.get(0) * ds.get(1)), (int) ds.get(2), (int) ds.get(3)));
                f32.close();
                dec.close();
                part.close();
            }
            rows.add(row);
        }
        int planes = rows.get(0).get(0).planes;
        int outH = 0;
        for (java.util.List<Tile> row : rows) {
            outH += Math.min(rowLimit, row.get(0).h);
        }
        int outW = 0;
        for (Tile t : rows.get(0)) {
            outW += Math.min(rowLimit, t.w);
        }
        float[] out = new float[planes * outH * outW];
        int y0 = 0;
        for (int i = 0; i < rows.size(); i++) {
            java.util.List<Tile> row = rows.get(i);
            int x0 = 0;
            for (int j = 0; j < row.size(); j++) {
                Tile t = row.get(j);
                if (i > 0) {
                    blendV(rows.get(i - 1).get(j), t, blend);
                }
                if (j > 0) {
                    blendH(row.get(j - 1), t, blend);
                }
                int ch = Math.min(rowLimit, t.h);
                int cw = Math.min(rowLimit, t.w);
                for (int p = 0; p < planes; p++) {
                    for (int y = 0; y < ch; y++) {
                        System.arraycopy(t.data, (p * t.h + y) * t.w, out, (p * outH + y0 + y) * outW + x0, cw);
                    }
                }
                x0 += cw;
            }
            y0 += Math.min(rowLimit, row.get(0).h);
        }
        long batch = s.get(0);
        return z.getManager().create(out, new Shape(batch, planes / batch, outH, outW));
    }

    /** One decoded tile on the host: planes = batch × channels, each h × w. */
    private record Tile(float[] data, int planes, int h, int w) {
    }

    /** diffusers' blend_v: b's first rows fade in from a's last rows (b changed in place). */
    private static void blendV(Tile a, Tile b, int blend) {
        int e = Math.min(Math.min(a.h, b.h), blend);
        for (int y = 0; y < e; y++) {
            float wa = (float) (1 - y / (double) e);
            float wb = (float) (y / (double) e);
            for (int p = 0; p < b.planes; p++) {
                int ra = (p * a.h + a.h - e + y) * a.w;
                int rb = (p * b.h + y) * b.w;
                for (int x = 0; x < b.w; x++) {
                    b.data[rb + x] = a.data[ra + x] * wa + b.data[rb + x] * wb;
                }
            }
        }
    }

    /** diffusers' blend_h: b's first columns fade in from a's last columns (b changed in place). */
    private static void blendH(Tile a, Tile b, int blend) {
        int e = Math.min(Math.min(a.w, b.w), blend);
        for (int x = 0; x < e; x++) {
            float wa = (float) (1 - x / (double) e);
            float wb = (float) (x / (double) e);
            for (int p = 0; p < b.planes; p++) {
                for (int y = 0; y < b.h; y++) {
                    int ia = (p * a.h + y) * a.w + a.w - e + x;
                    int ib = (p * b.h + y) * b.w + x;
                    b.data[ib] = a.data[ia] * wa + b.data[ib] * wb;
                }
            }
        }
    }

    /**
     * {@code quant_conv(encoder(image))}: [B, 2·latent, H/8, W/8] with the mean on the first {@code latent}
     * channels and the logvar on the rest (diffusers' DiagonalGaussianDistribution input). {@code image} is
     * [B, in, H, W] in [−1, 1], H and W multiples of {@link #downscaleFactor()}.
     */
    public NDArray encodeMoments(NDArray image) {
        return encodeMoments(image, null);
    }

    /** {@link #encodeMoments(NDArray)} with named intermediates ({@code encoder.*}, {@code quant_conv}). */
    public NDArray encodeMoments(NDArray image, BiConsumer<String, NDArray> tap) {
        if (encoder == null) {
            throw new IllegalStateException("this VAE checkpoint has no encoder weights");
        }
        Shape s = image.getShape();
        int f = downscaleFactor();
        if (s.dimension() != 4 || s.get(1) != config.inChannels() || s.get(2) % f != 0 || s.get(3) % f != 0) {
            throw new IllegalArgumentException("image must be [B, " + config.inChannels() + ", H, W] with H and W"
                    + " multiples of " + f + ", got " + s);
        }
        try (NDScope scope = new ForwardScope()) {
            NDArray h = encoder.forward(toModel(image), "encoder", tap);
            if (quantConv != null) {
                h = tap(tap, "quant_conv", quantConv.forward(h));
            }
            NDScope.unregister(h);
            return h;
        }
    }

    private NDArray toModel(NDArray x) {
        NDArray y = x;
        if (!y.getDevice().equals(ctx.device())) {
            y = y.toDevice(ctx.device(), false);
        }
        if (y.getDataType() != ctx.dtype()) {
            y = y.toType(ctx.dtype(), false);
        }
        return y;
    }

    static NDArray tap(BiConsumer<String, NDArray> tap, String name, NDArray x) {
        if (tap != null) {
            tap.accept(name, x);
        }
        return x;
    }

    public VaeConfig config() {
        return config;
    }

    /** {@code scaling_factor}: the pipeline decodes {@code latents / scalingFactor()}. */
    public double scalingFactor() {
        return config.scalingFactor();
    }

    /** {@code shift_factor}, 0 when the config has none. */
    public double shiftFactor() {
        return config.shiftFactor();
    }

    /** diffusers' {@code force_upcast}: this VAE should run in float32 under a float16 pipeline. */
    public boolean forceUpcast() {
        return config.forceUpcast();
    }

    public int latentChannels() {
        return config.latentChannels();
    }

    /** Pixels per latent cell per side (8 for Stable Diffusion). */
    public int downscaleFactor() {
        return config.downscaleFactor();
    }

    public boolean hasEncoder() {
        return encoder != null;
    }

    public ComputeContext context() {
        return ctx;
    }

    public Device device() {
        return ctx.device();
    }

    public DataType dtype() {
        return ctx.dtype();
    }

    /** Bytes of the weights this model holds (for memory planning). */
    public long weightBytes() {
        return dev.sdcfg.runtime.MemoryBudget.bytesOf(manager);
    }

    @Override
    public void close() {
        manager.close();
    }
}
