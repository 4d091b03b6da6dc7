package dev.sdcfg.jobs;

import java.util.Locale;

/** Life of a job: queued → running → succeeded | failed | canceled (queued jobs can go straight to canceled). */
public enum JobStatus {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED;

    /** The name used on the wire and as the metric tag: lower case. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean isFinal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELED;
    }
}
