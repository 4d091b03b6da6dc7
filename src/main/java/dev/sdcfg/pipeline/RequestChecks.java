package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.sampler.SamplerOptionException;

/**
 * What a pipeline checks before it runs a request ({@link ImageGenerator#validate}): sides the VAE can decode, the
 * pixel budget, steps, n and seed, the sampler and its options against the model's scheduler config, and the
 * guidance spec's step-dependent rules. Touches no NDArray; every error names its field.
 */
final class RequestChecks {

    private final JsonConfig schedulerConfig;
    private final int vaeScaleFactor;
    private final long maxPixels;

    RequestChecks(JsonConfig schedulerConfig, int vaeScaleFactor, long maxPixels) {
        this.schedulerConfig = schedulerConfig;
        this.vaeScaleFactor = vaeScaleFactor;
        this.maxPixels = maxPixels;
    }

    /** Throws {@link InvalidRequestException} naming the field when the pipeline cannot run {@code r}. */
    void check(GenerationRequest r) {
        if (r.prompt() == null) {
            throw new InvalidRequestException("prompt", "prompt is required");
        }
        checkSide("width", r.width());
        checkSide("height", r.height());
        if ((long) r.width() * r.height() > maxPixels) {
            throw new InvalidRequestException("width", "width×height " + r.width() + "×" + r.height() + " exceeds "
                    + maxPixels + " pixels");
        }
        if (r.steps() < 1 || r.steps() > GuidanceSpec.MAX_STEPS) {
            throw new InvalidRequestException("steps", "steps must be within 1.." + GuidanceSpec.MAX_STEPS);
        }
        if (r.n() < 1) {
            throw new InvalidRequestException("n", "n must be at least 1");
        }
        if (r.seed() < 0) {
            throw new InvalidRequestException("seed", "seed must be non-negative");
        }
        try (Sampler probe = SamplerFactory.create(r.sampler(), schedulerConfig, r.samplerOptions().toJson())) {
            probe.setTimesteps(r.steps());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(SamplerOptionException.fieldOf(e), e.getMessage());
        }
        r.guidance().validateFor(r.steps());
    }

    private void checkSide(String field, int v) {
        if (v < vaeScaleFactor || v % 8 != 0 || v % vaeScaleFactor != 0) {
            throw new InvalidRequestException(field, field + " must be a positive multiple of 8 (got " + v + ")");
        }
    }
}
