package dev.sdcfg.pipeline;

/**
 * Engine-wide options fixed when the model is loaded.
 *
 * @param variant            weight file variant to prefer ("fp16" picks *.fp16.safetensors), null for the plain files
 * @param attentionSliceSize batch·heads rows per attention slice (0 = no slicing); bounds attention memory
 * @param clipSkip           diffusers' clip_skip: 0 = last hidden state, k = output of layer N−k (final layer norm applied)
 * @param maxPixels          the largest width×height a request may ask for
 * @param memoryBudget       working-memory budget: "auto" (or null) or a size such as "8G" ({@code MemoryBudget})
 * @param maxPromptChunks    the most 75-token chunks a prompt may take in A1111 syntax (more: 422)
 */
public record PipelineOptions(String variant, int attentionSliceSize, int clipSkip, long maxPixels,
                              String memoryBudget, int maxPromptChunks) {

    /** {@code sd.limits.max-prompt-chunks}' default: 600 prompt tokens. */
    public static final int DEFAULT_MAX_PROMPT_CHUNKS = 8;

    public PipelineOptions(String variant, int attentionSliceSize, int clipSkip, long maxPixels, String memoryBudget) {
        this(variant, attentionSliceSize, clipSkip, maxPixels, memoryBudget, DEFAULT_MAX_PROMPT_CHUNKS);
    }

    public PipelineOptions(String variant, int attentionSliceSize, int clipSkip, long maxPixels) {
        this(variant, attentionSliceSize, clipSkip, maxPixels, "auto");
    }

    public static PipelineOptions defaults() {
        return new PipelineOptions(null, 0, 0, 1024L * 1024L);
    }
}
