package dev.sdcfg.pipeline;

import dev.sdcfg.sampler.SamplerInfo;

import java.util.List;
import java.util.Map;

/**
 * What the service needs from the engine. Exactly one thread (the generation worker) calls {@link #generate}
 * and {@link #warmUp}; {@link #validate} and the description methods are safe from any thread and never touch
 * NDArrays.
 */
public interface ImageGenerator extends AutoCloseable {

    /** Model name, folder, device, dtype, native size and other facts for GET /v1/models. */
    ModelInfo modelInfo();

    /** Normalizers, schedule kinds, parameters with ranges, presets: the body of GET /v1/guidance. */
    Map<String, Object> guidanceCatalog();

    /** Sampler names with their options: what GET /v1/samplers lists. */
    List<SamplerInfo> samplers();

    /** Throws {@link InvalidRequestException} naming the field when the request cannot run; changes nothing. */
    void validate(GenerationRequest request);

    GenerationResult generate(GenerationRequest request, GenerationListener listener);

    /**
     * The textual-inversion folder listing (sd.embeddings.dir) requests' prompts may name; null: none. Engines
     * without embedding support ignore it.
     */
    default void useEmbeddings(java.util.function.Supplier<java.util.List<dev.sdcfg.model.library.ModelFolderScan.Entry>>
                                       folder) {
    }

    /** One tiny denoising step end to end so that readiness means "can serve". */
    void warmUp();

    @Override
    void close();
}
