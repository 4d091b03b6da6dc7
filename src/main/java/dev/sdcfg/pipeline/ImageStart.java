package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
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
 * The per-image state of a job that starts from an image: image to image as diffusers'
 * {@code StableDiffusionImg2ImgPipeline.prepare_latents}, inpainting as {@code StableDiffusionInpaintPipeline}'s
 * {@code prepare_latents} / {@code prepare_mask_latents} and its denoising loop.
 *
 * <p>Random draws, all from the image's seed in the reference's order: image to image draws the latent
 * distribution's sample of the image, then the noise. Inpainting draws the image's sample (4-channel UNets, or
 * strength below 1), the noise, then the sample of the masked image's latent distribution; a stochastic sampler's
 * draws follow.
 *
 * <p>Inpainting, regular 4-channel UNets: after every step the latents outside the mask are replaced by the
 * image's latents noised to the next timestep ({@code (1 − mask)·add_noise(image_latents, noise, t[i+1]) +
 * mask·latents}; clean after the last step). 9-channel inpainting UNets see {@code [latents, mask,
 * masked_image_latents]} concatenated on the channels.
 */
final class ImageStart {

    private final NDArray latents;
    /** Inpainting only: the mask at latent size [1, 1, h, w], 1 = repaint. */
    private final NDArray mask;
    /** 4-channel inpainting only: 1 − mask, made once on the host (no device scalar per step). */
    private final NDArray keep;
    /** 9-channel inpainting only: the masked image's latents [1, C, h, w]. */
    private final NDArray maskedImageLatents;
    /** 4-channel inpainting only: the image's latents and the start noise, for the blend after each step. */
    private final NDArray imageLatents;
    private final NDArray noise;

    private ImageStart(NDArray latents, NDArray mask, NDArray keep, NDArray maskedImageLatents, NDArray imageLatents,
                       NDArray noise) {
        this.latents = latents;
        this.mask = mask;
        this.keep = keep;
        this.maskedImageLatents = maskedImageLatents;
        this.imageLatents = imageLatents;
        this.noise = noise;
    }

    /** The start latents (noised image latents, or pure noise × init sigma for inpainting at strength 1). */
    NDArray latents() {
        return latents;
    }

    /**
     * Prepares one image (seeds the engine's generator with {@code seed}); arrays in {@code dtype}, attached to
     * {@code into}. {@code unetInChannels} tells a 9-channel inpainting UNet from a regular one.
     */
    static ImageStart prepare(AutoencoderKL vae, Img2ImgInput in, long seed, Sampler sampler, int firstCall,
                              int unetInChannels, DataType dtype, NDManager into) {
        InitImage image = in.image();
        InitImage effectiveMask = in.effectiveMask(); // blurred first when mask_blur asks
        if (in.maskedContent() == MaskedContent.FILL) { // A1111 fills the start image before anything else
            image = MaskedContent.fill(image, effectiveMask);
        }
        Shape pixelShape = new Shape(1, 3, image.height(), image.width());
        NDArray pixels = into.create(Img2Img.pixels(image), pixelShape);
        DjlRuntime.seed(seed);
        if (in.mask() == null) {
            NDArray imageLatents = encode(vae, pixels, into);
            NDArray noise = NoiseSource.ENGINE_CPU.randn(imageLatents.getShape(), DataType.FLOAT32, into);
            return new ImageStart(cast(sampler.addNoise(imageLatents, noise, firstCall), dtype, into), null, null, null,
                    null, null);
        }
        boolean nine = unetInChannels != vae.latentChannels();
        boolean strengthMax = in.strength() == 1.0;
        Shape latentShape = new Shape(1, vae.latentChannels(), image.height() / vae.downscaleFactor(),
                image.width() / vae.downscaleFactor());
        float[] condition = Inpaint.maskCondition(effectiveMask);
        Shape maskShape = new Shape(1, 1, latentShape.get(2), latentShape.get(3));
        NDArray freshNoise = null;
        if (in.maskedContent() == MaskedContent.LATENT_NOISE) {
            // A1111's create_random_tensors: a generator of its own from the seed, so drawn first and the seed reset
            freshNoise = NoiseSource.ENGINE_CPU.randn(latentShape, DataType.FLOAT32, into);
            DjlRuntime.seed(seed);
        }
        NDArray imageLatents = !nine || !strengthMax ? encode(vae, pixels, into) : null;
        if (imageLatents != null && (freshNoise != null || in.maskedContent() == MaskedContent.LATENT_NOTHING)) {
            float[] repaint = Inpaint.latentMask(condition, image.width(), image.height(), vae.downscaleFactor());
            float[] kept = new float[repaint.length];
            for (int i = 0; i < kept.length; i++) {
                kept[i] = 1f - repaint[i];
            }
            imageLatents = imageLatents.mul(into.create(kept, maskShape)); // A1111's init_latent * mask
            if (freshNoise != null) { // + create_random_tensors(...) * nmask
                imageLatents = imageLatents.add(freshNoise.mul(into.create(repaint, maskShape)));
            }
        }
        NDArray noise = NoiseSource.ENGINE_CPU.randn(latentShape, DataType.FLOAT32, into);
        NDArray start = strengthMax ? HostScalars.mul(noise, sampler.initNoiseSigma())
                : sampler.addNoise(imageLatents, noise, firstCall);
        NDArray masked = into.create(Inpaint.maskedPixels(Img2Img.pixels(image), condition), pixelShape);
        NDArray maskedLatents = encode(vae, masked, into); // drawn even for 4-channel UNets, as diffusers does
        float[] latentMask = Inpaint.latentMask(condition, image.width(), image.height(), vae.downscaleFactor());
        float[] latentKeep = new float[latentMask.length];
        for (int i = 0; i < latentKeep.length; i++) {
            latentKeep[i] = 1f - latentMask[i];
        }
        NDArray mask = into.create(latentMask, maskShape);
        NDArray keep = nine ? null : cast(into.create(latentKeep, maskShape), dtype, into);
        return new ImageStart(cast(start, dtype, into), cast(mask, dtype, into), keep,
                nine ? cast(maskedLatents, dtype, into) : null, nine ? null : cast(imageLatents, dtype, into),
                nine ? null : cast(noise, dtype, into));
    }

    /**
     * The hires latent upscaler's start (diffusers' img2img {@code prepare_latents} given 4-channel latents as its
     * image: they are the init latents, no VAE encode): seeds the engine's generator with {@code seed}, draws the
     * noise and noises {@code latents} to sampler call {@code firstCall}, in float32 as image to image does.
     */
    static ImageStart fromLatents(NDArray latents, long seed, Sampler sampler, int firstCall, DataType dtype,
                                  NDManager into) {
        NDArray init = cast(latents, DataType.FLOAT32, into);
        DjlRuntime.seed(seed);
        NDArray noise = NoiseSource.ENGINE_CPU.randn(init.getShape(), DataType.FLOAT32, into);
        return new ImageStart(cast(sampler.addNoise(init, noise, firstCall), dtype, into), null, null, null, null,
                null);
    }

    /** What the UNet sees at a call: the scaled latents, with mask and masked-image latents for 9-channel UNets. */
    NDArray unetInput(NDArray scaled) {
        return maskedImageLatents == null ? scaled : NDArrays.concat(new NDList(scaled, mask, maskedImageLatents), 1);
    }

    /** The latents after sampler call {@code c} of {@code calls}: blended with the image for 4-channel inpainting. */
    NDArray afterStep(NDArray stepped, int c, int calls, Sampler sampler) {
        if (imageLatents == null) {
            return stepped;
        }
        NDArray proper = c < calls - 1 ? sampler.addNoise(imageLatents, noise, c + 1) : imageLatents;
        return keep.mul(proper).add(mask.mul(stepped));
    }

    /**
     * {@code retrieve_latents(vae.encode(pixels), generator) · scaling_factor}: DiagonalGaussianDistribution's
     * {@code mean + std · randn} with logvar clamped to [−30, 20], std = exp(0.5 · logvar); one draw.
     */
    private static NDArray encode(AutoencoderKL vae, NDArray pixels, NDManager into) {
        NDArray moments = vae.encodeMoments(pixels);
        moments.attach(into);
        NDList parts = moments.toType(DataType.FLOAT32, false).split(2, 1);
        NDArray mean = parts.get(0);
        NDArray std = HostScalars.mul(parts.get(1).clip(-30.0, 20.0), 0.5).exp();
        NDArray sample = NoiseSource.ENGINE_CPU.randn(mean.getShape(), DataType.FLOAT32, into);
        return HostScalars.mul(mean.add(std.mul(sample)), vae.scalingFactor());
    }

    private static NDArray cast(NDArray x, DataType dtype, NDManager into) {
        NDArray out = x.getDataType() == dtype ? x : x.toType(dtype, false);
        out.attach(into);
        return out;
    }
}
