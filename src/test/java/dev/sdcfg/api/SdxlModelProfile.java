package dev.sdcfg.api;

import dev.sdcfg.testutil.Fixtures;
import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.Map;

/** The real pipeline on the tiny SDXL folder of the SDXL goldens (test resources parity-extra/sdxl/model). */
public class SdxlModelProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("sd.generator", "pipeline",
                "sd.model.path", Fixtures.resource("parity-extra/sdxl/model").toAbsolutePath().toString());
    }
}
