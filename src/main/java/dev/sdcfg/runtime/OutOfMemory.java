package dev.sdcfg.runtime;

import java.util.Locale;

/**
 * Whether a failure means memory ran out: a JVM {@link OutOfMemoryError}, or the engine's allocation failure
 * (CUDA's "out of memory", PyTorch's CPU allocator's "can't allocate memory" / "not enough memory").
 */
public final class OutOfMemory {

    private static final String[] MARKERS = {"out of memory", "not enough memory", "outofmemory",
            "can't allocate memory", "cannot allocate memory", "failed to allocate"};

    private OutOfMemory() {
    }

    public static boolean is(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError) {
                return true;
            }
            String m = c.getMessage() == null ? "" : c.getMessage().toLowerCase(Locale.ROOT);
            for (String marker : MARKERS) {
                if (m.contains(marker)) {
                    return true;
                }
            }
        }
        return false;
    }
}
