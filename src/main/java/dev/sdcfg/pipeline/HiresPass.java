package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.guidance.GuidanceSpec;

/**
 * The second pass of a {@link HiresFix} request: its image-to-image request at the target size, what must hold
 * before it runs, and the latent upscale. {@link StableDiffusionPipeline} runs it after the first pass of each image.
 */
final class HiresPass {

    static final String FIELD = "hires";

    private HiresPass() {
    }

    /**
     * The second pass as a request: the target size, the hires schedule, the same prompt, guidance, sampler and seed;
     * {@code start} is the upscaled image for the Lanczos upscaler (null for the latent one, which starts from
     * latents, see {@link StableDiffusionPipeline}). SDXL size conditioning, when the request gave none, follows the
     * target size (diffusers' default for an image of that size).
     */
    static GenerationRequest request(GenerationRequest r, Img2ImgInput start) {
        HiresFix h = r.hires();
        return new GenerationRequest(r.prompt(), r.negativePrompt(), h.targetSide(r.width()), h.targetSide(r.height()),
                h.scheduleSteps(r.steps()), r.sampler(), r.samplerOptions(), r.guidance(), r.seed(), r.n(), start,
                r.sizeConditions(), r.promptSyntax(), r.model(), r.loras(), null);
    }

    /** What a hires request must satisfy beyond the first pass's checks; each failure names its field. */
    static void check(GenerationRequest r, long maxPixels, boolean vaeHasEncoder, int samplerOrder) {
        HiresFix h = r.hires();
        if (r.img2img() != null) {
            throw new InvalidRequestException(FIELD, "the second pass follows a text-to-image first pass: it cannot"
                    + " be combined with init_image");
        }
        if (!(h.scale() >= HiresFix.MIN_SCALE && h.scale() <= HiresFix.MAX_SCALE)) {
            throw new InvalidRequestException(FIELD + ".scale", "scale must be within " + HiresFix.MIN_SCALE + ".."
                    + HiresFix.MAX_SCALE + " (got " + h.scale() + ")");
        }
        if (h.steps() < 0 || h.steps() > GuidanceSpec.MAX_STEPS) {
            throw new InvalidRequestException(FIELD + ".steps", "steps must be within 0.." + GuidanceSpec.MAX_STEPS
                    + " (0: the first pass's)");
        }
        if (!(h.strength() >= 0 && h.strength() <= 1)) {
            throw new InvalidRequestException(FIELD + ".strength", "strength must be within 0..1 (got "
                    + h.strength() + ")");
        }
        int w = h.targetSide(r.width());
        int ht = h.targetSide(r.height());
        if ((long) w * ht > maxPixels) {
            throw new InvalidRequestException(FIELD + ".scale", "the second pass at " + w + "x" + ht + " exceeds "
                    + maxPixels + " pixels (sd.limits.max-pixels)");
        }
        int run = h.runSteps(r.steps());
        if (run < 1) {
            throw new InvalidRequestException(FIELD + ".strength", "steps × strength = " + h.scheduleSteps(r.steps())
                    + " × " + h.strength() + " leaves the second pass no step to run (int(steps × strength) must be"
                    + " at least 1)");
        }
        r.guidance().validateFor(run); // the second pass plans the guidance over its own steps
        if (samplerOrder != 1) {
            throw new InvalidRequestException("sampler", "samplers with two model calls per step (Heun, DPM2) are"
                    + " not available for the hires second pass (image to image)");
        }
        if (h.upscaler() == HiresFix.Upscaler.LANCZOS && !vaeHasEncoder) {
            throw new InvalidRequestException(FIELD + ".upscaler", "this model's VAE checkpoint has no encoder: the"
                    + " lanczos upscaler re-encodes the image; use the latent upscaler");
        }
    }

    /**
     * A1111's "Latent" upscale, {@code torch.nn.functional.interpolate(latents, size=(height, width),
     * mode="bilinear", align_corners=False, antialias=False)}, as two matrix products {@code Wy · x · Wxᵀ} whose
     * rows hold torch's two taps per output cell (weights from {@link #bilinearWeights}). Made on the device from
     * host-built weights: nothing is read back.
     */
    static NDArray upscaleLatents(NDArray latents, int height, int width, NDManager into) {
        Shape s = latents.getShape();
        int h = (int) s.get(2);
        int w = (int) s.get(3);
        DataType dt = latents.getDataType();
        try (NDManager tmp = into.newSubManager(latents.getDevice())) {
            NDArray wy = tmp.create(bilinearWeights(h, height), new Shape(height, h)).toType(dt, false);
            NDArray wxT = tmp.create(bilinearWeights(w, width), new Shape(width, w)).toType(dt, false).transpose();
            NDArray out = wy.matMul(latents).matMul(wxT); // [H, h] · [1, C, h, w] · [w, W] → [1, C, H, W]
            out.attach(into);
            return out;
        }
    }

    /**
     * The [out × in] row-major matrix of torch's CPU bilinear kernel along one axis (aten UpSampleKernel.cpp
     * {@code compute_indices_weights_linear}, align_corners false, no scale factor given): in float,
     * {@code scale = in / out}, source {@code max(scale · (i + 0.5) − 0.5, 0)}, taps {@code i0 = min(floor(src), in −
     * 1)} and {@code i0 + 1} (the same cell at the last row), {@code λ1 = clamp(src − i0, 0, 1)}, {@code λ0 = 1 − λ1};
     * equal sizes copy.
     */
    static float[] bilinearWeights(int in, int out) {
        float[] m = new float[out * in];
        if (in == out) {
            for (int i = 0; i < out; i++) {
                m[i * in + i] = 1f;
            }
            return m;
        }
        float scale = (float) in / out;
        for (int i = 0; i < out; i++) {
            float src = scale * (i + 0.5f) - 0.5f;
            if (src < 0) {
                src = 0;
            }
            int i0 = Math.min((int) Math.floor(src), in - 1);
            float l1 = Math.min(Math.max(src - i0, 0f), 1f);
            int i1 = i0 + (i0 < in - 1 ? 1 : 0);
            float l0 = 1f - l1;
            m[i * in + i0] += l0;
            m[i * in + i1] += l1;
        }
        return m;
    }
}
