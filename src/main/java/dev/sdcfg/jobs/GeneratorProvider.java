package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.ImageGenerator;

/**
 * Builds the {@link ImageGenerator}. Implementations are CDI beans; {@code sd.generator} picks one by
 * {@link #name()} ("pipeline" is the real engine; tests add a fake). {@link #create()} runs once, on the
 * generation worker thread, which then owns the generator and every NDArray it makes.
 */
public interface GeneratorProvider {

    String name();

    /** What will be loaded, for logs and GET /v1/models before loading ends (a folder, "embedded demo model"). */
    String describe();

    /** Loads the model; called on the worker thread. Throwing keeps the service unready with the reason. */
    ImageGenerator create();
}
