package dev.sdcfg.api;

import java.util.List;

/**
 * The {@code preview_every} field of POST /v1/jobs (also accepted, and ignored, by POST /v1/images/generations,
 * which answers only at the end): steps between live previews, 0 (the default) for none, at most
 * {@code sd.limits.max-steps}. A value at or above the job's steps gives no preview (none follows the last step).
 */
final class PreviewEvery {

    static final String FIELD = "preview_every";

    private PreviewEvery() {
    }

    static String rule(int maxSteps) {
        return "an integer between 0 (no previews) and " + maxSteps;
    }

    static void check(Integer value, int maxSteps, List<FieldError> errors) {
        if (value != null && (value < 0 || value > maxSteps)) {
            errors.add(new FieldError(FIELD, "must be " + rule(maxSteps)));
        }
    }

    /** The checked value, 0 when absent. */
    static int of(ImageGenerationRequest body) {
        return body.previewEvery() == null ? 0 : body.previewEvery();
    }
}
