package dev.sdcfg.pipeline;

/** One finished image: PNG bytes (with the generation parameters in a tEXt chunk) and the seed it used. */
public record GeneratedImage(byte[] png, long seed, int width, int height) {
}
