package dev.sdcfg.model.unet;

/**
 * Settings every UNet block shares: the resnets' time-embedding width, GroupNorm groups and eps, time scale-shift
 * mode; the transformers' projection kind, attention upcast and slice size.
 */
record BlockSettings(long tembChannels, int groups, double eps, String resnetTimeScaleShift,
                     boolean useLinearProjection, boolean upcastAttention, int attentionSliceSize) {
}
