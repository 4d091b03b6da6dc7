package dev.sdcfg.pipeline;

/**
 * Facts about the loaded model and how it runs (the body of {@code GET /v1/models} once loaded).
 *
 * @param id                 the model folder's name
 * @param path               the model folder (null for a pipeline assembled in code)
 * @param device             the device it runs on, e.g. {@code cpu()} or {@code gpu(0)}
 * @param dtype              the compute dtype, e.g. {@code float32}
 * @param nativeSize         the image side the UNet was trained at (sample_size × VAE scale factor)
 * @param vaeScaleFactor     pixels per latent along a side
 * @param latentChannels     the UNet's in_channels
 * @param textHiddenSize     the text encoder's hidden size
 * @param maxPromptTokens    the tokenizer's length (CLIP reads this many tokens)
 * @param defaultSampler     the scheduler class of the model folder (the sampler when a request names none)
 * @param predictionType     the scheduler's prediction type ({@code epsilon} when not given)
 * @param clipSkip           text-encoder layers skipped from the end
 * @param attentionSliceSize attention slice size (0: not sliced)
 * @param family             the model family: sd1, sd2 or sdxl
 */
public record ModelInfo(String id, String path, String device, String dtype, int nativeSize, int vaeScaleFactor,
        int latentChannels, int textHiddenSize, int maxPromptTokens, String defaultSampler, String predictionType,
        int clipSkip, int attentionSliceSize, String family) {

    public static final String FAMILY_SDXL = "sdxl";

    /** An SD 1.x model (generators that do not tell their family). */
    public ModelInfo(String id, String path, String device, String dtype, int nativeSize, int vaeScaleFactor,
                     int latentChannels, int textHiddenSize, int maxPromptTokens, String defaultSampler,
                     String predictionType, int clipSkip, int attentionSliceSize) {
        this(id, path, device, dtype, nativeSize, vaeScaleFactor, latentChannels, textHiddenSize, maxPromptTokens,
                defaultSampler, predictionType, clipSkip, attentionSliceSize, "sd1");
    }
}
