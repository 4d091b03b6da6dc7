package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.runtime.HostScalars;
import dev.sdcfg.sampler.NoiseSource;
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

    /** The first sampler call the loop runs: {@code t_start · scheduler.order} (diffusers' begin index). */
    static int firstCall(GenerationRequest r, Sampler sampler) {
        return r.img2img() == null ? 0 : skippedSteps(r.steps(), r.img2img().strength()) * sampler.order();
    }

    /** What the model and request must satisfy; each failure names its field. */
    static void check(GenerationRequest r, AutoencoderKL vae, int samplerOrder) {
        Img2ImgInput in = r.img2img();
        if (in == null) {
            return;
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

    /**
     * The noised start latents of one image ({@code prepare_latents}): [1, C, H/f, W/f] in {@code dtype} on the
     * VAE's device, attached to {@code into}. Seeds the engine's generator with {@code seed}.
     */
    static NDArray startLatents(AutoencoderKL vae, InitImage image, long seed, Sampler sampler, int firstCall,
                                DataType dtype, NDManager into) {
        try (NDManager m = into.newSubManager()) {
            NDArray pixels = m.create(pixels(image), new Shape(1, 3, image.height(), image.width()));
            NDArray moments = vae.encodeMoments(pixels);
            moments.attach(m);
            NDList parts = moments.toType(DataType.FLOAT32, false).split(2, 1);
            NDArray mean = parts.get(0);
            // DiagonalGaussianDistribution: logvar clamped to [-30, 20], std = exp(0.5 · logvar)
            NDArray std = HostScalars.mul(parts.get(1).clip(-30.0, 20.0), 0.5).exp();
            DjlRuntime.seed(seed);
            NDArray sample = NoiseSource.ENGINE_CPU.randn(mean.getShape(), DataType.FLOAT32, m);
            NDArray latents = HostScalars.mul(mean.add(std.mul(sample)), vae.scalingFactor());
            NDArray noise = NoiseSource.ENGINE_CPU.randn(latents.getShape(), DataType.FLOAT32, m);
            NDArray noised = sampler.addNoise(latents, noise, firstCall);
            NDArray out = noised.getDataType() == dtype ? noised.duplicate() : noised.toType(dtype, false);
            out.attach(into);
            return out;
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
