package dev.sdcfg.pipeline;

import java.util.List;
import java.util.Map;

/**
 * @param images   the images, index i generated with seed + i
 * @param warnings user-facing notes such as a prompt cut at 77 tokens
 * @param timings  stage name → milliseconds (text_encode, denoise, vae_decode, total)
 */
public record GenerationResult(List<GeneratedImage> images, List<String> warnings, Map<String, Double> timings) {
}
