package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/**
 * A diffusion sampler (what diffusers calls a scheduler), reproducing the diffusers class of the same algorithm.
 *
 * <p>Usage per job (samplers keep multistep history: make a new one per job, on the worker thread):
 * <pre>{@code
 * Sampler s = SamplerFactory.create("euler", modelSchedulerConfig, overrides);
 * s.setTimesteps(steps);
 * NDArray x = initialNoise.mul(s.initNoiseSigma());
 * double[] ts = s.timesteps();
 * for (int i = 0; i < ts.length; i++) {           // one model call per entry (Heun, DPM2: 2 per step)
 *     NDArray in = s.scaleModelInput(x, i);        // may return x itself
 *     NDArray eps = unet(in, ts[i]);
 *     NDArray next = s.step(eps, i, x, NoiseSource.ENGINE_CPU);
 *     x.close(); x = next;
 * }
 * s.close();
 * }</pre>
 *
 * <p>Memory: arrays returned by {@link #scaleModelInput} and {@link #step} behave like results of ordinary NDArray
 * ops — attached to the manager of {@code sample} and registered in the caller's current {@code NDScope} if one
 * is open. The sampler never keeps references to the caller's arrays: the history it needs (previous model
 * outputs, derivatives, held samples) is copied into arrays it owns and frees on {@link #close()}.
 *
 * <p>Dtypes: any batch size and float dtype. Scalar coefficients are computed in Java (float32 where diffusers
 * uses float32 tensors) and applied with a handful of NDArray ops; the sample math stays in the sample's dtype,
 * except where diffusers upcasts (Euler, Euler ancestral and DPM-Solver compute the step in float32 and return
 * the model output's dtype). Pass the model output in the latents' dtype (e.g. cast an fp16 UNet's output to fp32
 * when the latents are kept in fp32): like diffusers, the result takes the model output's dtype.
 */
public interface Sampler extends AutoCloseable {

    /** The sampler's name as the factory knows it ({@code euler}, {@code dpmpp_2m_karras}, ...). */
    String name();

    /** The diffusers class this sampler reproduces (e.g. {@code EulerDiscreteScheduler}). */
    String diffusersClass();

    /** diffusers' {@code order} attribute: model calls per step (2 for Heun and DPM2, else 1). */
    int order();

    /** Computes the schedule for {@code steps} inference steps and resets all history. */
    void setTimesteps(int steps);

    /** The number of inference steps given to {@link #setTimesteps} (0 before). */
    int numInferenceSteps();

    /**
     * The timestep passed to the model at each model call, as diffusers' {@code scheduler.timesteps} (float32
     * values for the sigma-based samplers, integers for the others). Its length is the number of model calls.
     */
    double[] timesteps();

    /** diffusers' {@code scheduler.sigmas} (float32 values, one more than the steps), or null for DDIM/DDPM/PNDM. */
    double[] sigmas();

    /** The standard deviation of the initial noise: multiply unit Gaussian latents by this. */
    double initNoiseSigma();

    /** The model input for call {@code stepIndex} (diffusers' {@code scale_model_input}); may be {@code sample}. */
    NDArray scaleModelInput(NDArray sample, int stepIndex);

    /**
     * Advances from {@code sample} given the model's output at call {@code stepIndex}. Calls must come in order
     * (the first call may start anywhere, for img2img); {@code noise} is only used by stochastic configurations.
     */
    NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NoiseSource noise);

    /**
     * The denoised estimate x0 at model call {@code stepIndex} (for previews): derived in one place from the model
     * output and the noise level that call's model input had, for this sampler's prediction_type, as diffusers'
     * {@code pred_original_sample} before any clip_sample/thresholding. Call it before {@link #step} of the same
     * index with the same arguments (a second-order sampler's noise level depends on which call comes next). Reads
     * nothing back: a few element-wise ops on the device, registered like {@link #step}'s temporaries.
     */
    NDArray denoised(NDArray modelOutput, int stepIndex, NDArray sample);

    /**
     * The forward process at call {@code stepIndex}: {@code original} noised to the level the sampler expects
     * there, by the diffusers class's own {@code add_noise} (img2img starts the loop from this). Alpha-based
     * samplers (DDIM, DDPM, PNDM) use {@code sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·n} at {@code timesteps[stepIndex]}; the
     * sigma ODE samplers {@code x + σ·n} and the multistep solvers {@code α_σ·x + σ_σ·n} at
     * {@code sigmas[stepIndex]} (diffusers indexes by {@code begin_index}, which the img2img pipeline sets to the
     * first call it runs). A new array; the inputs are not changed.
     */
    NDArray addNoise(NDArray original, NDArray noise, int stepIndex);

    /** True when {@link #step} draws noise with this configuration. */
    boolean isStochastic();

    /** Frees the history arrays the sampler owns. */
    @Override
    void close();
}
