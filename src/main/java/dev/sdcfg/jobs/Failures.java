package dev.sdcfg.jobs;

/** How a job's failure is named and described (the job view's {@code error.type} and {@code error.message}). */
final class Failures {

    private Failures() {
    }

    /**
     * True when {@code t} or a cause is an out-of-memory condition: the JVM's own, or the engine's, which arrives as
     * an EngineException whose message (CUDA, oneDNN, c10) is the only sign of it.
     */
    static boolean isOutOfMemory(Throwable t) {
        return dev.sdcfg.runtime.OutOfMemory.is(t); // also PyTorch's CPU allocator: "can't allocate memory"
    }

    /** The message and, when it adds something, the cause's; at most 2000 characters. */
    static String describe(Throwable t) {
        String m = t.getMessage();
        String base = m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
        Throwable c = t.getCause();
        if (c != null && c != t && c.getMessage() != null && !base.contains(c.getMessage())) {
            base = base + " (" + c.getClass().getSimpleName() + ": " + c.getMessage() + ")";
        }
        return base.length() > 2000 ? base.substring(0, 2000) + "…" : base;
    }
}
