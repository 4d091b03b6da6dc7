package dev.sdcfg.pipeline;

import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.sampler.Sampler;

/**
 * Image to image as diffusers' {@code StableDiffusionImg2ImgPipeline} (pipeline_stable_diffusion_img2img.py) does
 * it: the schedule of {@code steps} is cut by {@code strength} ({@code get_timesteps}), the start image is encoded
 * by the VAE and sampled from its latent distribution ({@code retrieve_latents(vae.encode(image), generator)}),
 * scaled by {@code scaling_factor} and noised by the sampler's own {@code add_noise} at the first timestep kept
 * ({@code prepare_latents}). The random draws come in diffusers' order from the job's seed: first the latent
 * distribution's sample, then the noise; a stochastic sampler's draws follow.
 */
final class Img2Img {

    static final String FIELD = "init_image";

    private Img2Img() {
    }

    /** diffusers' {@code t_start}: how many of the scheduled steps are skipped. */
    static int skippedSteps(int steps, double strength) {
        int initTimestep = Math.min((int) (steps * strength), steps);
        return Math.max(steps - initTimestep, 0);
    }

    /** The steps the loop runs (diffusers' {@code num_inference_steps} after {@code get_timesteps}). */
    static int runSteps(GenerationRequest r) {
        return r.img2img() == null ? r.steps() : r.steps() - skippedSteps(r.steps(), r.img2img().strength());
    }

    /** The steps the loop runs for a schedule of {@code steps} cut by {@code strength}. */
    static int runSteps(int steps, double strength) {
        return steps - skippedSteps(steps, strength);
    }

    /** The first sampler call the loop runs: {@code t_start · scheduler.order} (diffusers' begin index). */
    static int firstCall(GenerationRequest r, Sampler sampler) {
        return r.img2img() == null ? 0 : skippedSteps(r.steps(), r.img2img().strength()) * sampler.order();
    }

    /** What the model and request must satisfy; each failure names its field. */
    static void check(GenerationRequest r, AutoencoderKL vae, int samplerOrder, boolean inpaintingUnet) {
        Img2ImgInput in = r.img2img();
        if (inpaintingUnet && (in == null || in.mask() == null)) {
            throw new InvalidRequestException(in == null ? FIELD : "mask", "this model's UNet is an inpainting UNet"
                    + " (mask and masked-image latents as extra input channels): it needs init_image and mask");
        }
        if (in == null) {
            return;
        }
        if (in.mask() != null && (in.mask().width() != in.image().width()
                || in.mask().height() != in.image().height())) {
            throw new InvalidRequestException("mask", "mask is " + in.mask().width() + "x" + in.mask().height()
                    + " but init_image is " + in.image().width() + "x" + in.image().height() + ": they must match");
        }
        if (in.fullRes() && MaskCrop.isEmpty(in.effectiveMask())) {
            throw new InvalidRequestException("mask", "inpaint_full_res needs a mask with something to repaint: this"
                    + " one is black everywhere");
        }
        if (!(in.strength() >= 0 && in.strength() <= 1)) {
            throw new InvalidRequestException("strength", "strength must be within 0..1 (got " + in.strength() + ")");
        }
        if (runSteps(r) < 1) {
            throw new InvalidRequestException("strength", "steps × strength = " + r.steps() + " × " + in.strength()
                    + " leaves no step to run (int(steps × strength) must be at least 1)");
        }
        r.guidance().validateFor(runSteps(r)); // the guidance plan spans the steps run
        if (in.image().width() != r.width() || in.image().height() != r.height()) {
            throw new InvalidRequestException(FIELD, FIELD + " is " + in.image().width() + "x" + in.image().height()
                    + " but the request asks for " + r.width() + "x" + r.height()
                    + " (the output has the input image's size)");
        }
        if (!vae.hasEncoder()) {
            throw new InvalidRequestException(FIELD, "this model's VAE checkpoint has no encoder: it cannot start"
                    + " from an image");
        }
        if (samplerOrder != 1) {
            throw new InvalidRequestException("sampler", "samplers with two model calls per step (Heun, DPM2) are"
                    + " not available for image to image");
        }
    }

    /** VaeImageProcessor.preprocess: CHW float32, {@code 2 · (u8 / 255) − 1} in float32 as numpy and torch do. */
    static float[] pixels(InitImage image) {
        int w = image.width();
        int h = image.height();
        byte[] rgb = image.rgb();
        float[] chw = new float[3 * w * h];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < w * h; i++) {
                float v = (rgb[i * 3 + c] & 0xff) / 255f;
                chw[c * w * h + i] = 2f * v - 1f;
            }
        }
        return chw;
    }
}
