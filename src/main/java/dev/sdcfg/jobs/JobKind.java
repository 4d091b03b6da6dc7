package dev.sdcfg.jobs;

import java.util.Locale;

/** A plain generation (n images of one request) or an experiment (one image per guidance spec plus a grid). */
public enum JobKind {
    GENERATION, EXPERIMENT;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
