package dev.sdcfg.jobs.fake;

import dev.sdcfg.jobs.GeneratorProvider;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.pipeline.ImageGenerator;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Test-only generator provider selected with {@code sd.generator=fake}. {@code fake.load=block-then-fail} makes
 * loading wait for {@link #releaseLoad()} and then fail; {@code fake.step-delay-ms} slows each step.
 */
@ApplicationScoped
public class FakeGeneratorProvider implements GeneratorProvider {

    public static final String NAME = "fake";
    public static final String LOAD_FAILURE = "model folder /nonexistent/sd-model has no model_index.json";

    @ConfigProperty(name = "fake.step-delay-ms", defaultValue = "0")
    long stepDelayMillis;

    @ConfigProperty(name = "fake.load", defaultValue = "ok")
    String load;

    private final Gate gate = new Gate();
    private final CountDownLatch loadGate = new CountDownLatch(1);
    private volatile FakeImageGenerator generator;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String describe() {
        return "fake generator (tests)";
    }

    @Override
    public ImageGenerator create() {
        if ("block-then-fail".equals(load)) {
            try {
                loadGate.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new ModelLoadException(LOAD_FAILURE);
        }
        FakeImageGenerator g = new FakeImageGenerator(gate, stepDelayMillis);
        generator = g;
        return g;
    }

    public Gate gate() {
        return gate;
    }

    public void releaseLoad() {
        loadGate.countDown();
    }

    public FakeImageGenerator generator() {
        return generator;
    }
}
