package dev.sdcfg.pipeline;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sampler overrides as a value: read back equal from their JSON text, immutable, errors on sampler_options. */
class SamplerOverridesTest {

    @Test
    void canonicalTextReadsBackEqualInTheGivenOrder() {
        String text = "{\"use_karras_sigmas\":true,\"timestep_spacing\":\"trailing\",\"beta_start\":0.00085,"
                + "\"solver_order\":2,\"disable_corrector\":[0,1],\"variance_type\":null,\"x\":0.30000000000000004}";
        SamplerOverrides o = SamplerOverrides.parse(text);
        assertEquals(text, o.canonicalJson());
        SamplerOverrides again = SamplerOverrides.parse(o.canonicalJson());
        assertEquals(o, again);
        assertEquals(o.canonicalJson(), again.canonicalJson());
        assertEquals(List.of("use_karras_sigmas", "timestep_spacing", "beta_start", "solver_order",
                "disable_corrector", "variance_type", "x"), List.copyOf(again.keys()));
        assertEquals(0.30000000000000004, again.toJson().get("x").getAsDouble(), 0.0);
    }

    @Test
    void itCannotBeChangedFromOutside() {
        JsonObject source = new JsonObject();
        source.addProperty("eta", 0.5);
        SamplerOverrides o = SamplerOverrides.of(source);
        source.addProperty("eta", 1.0);
        o.toJson().addProperty("eta", 2.0);
        assertEquals("{\"eta\":0.5}", o.canonicalJson());
        assertThrows(UnsupportedOperationException.class, () -> o.keys().clear());
    }

    @Test
    void noneAndErrors() {
        assertSame(SamplerOverrides.NONE, SamplerOverrides.parse(null));
        assertSame(SamplerOverrides.NONE, SamplerOverrides.parse(" "));
        assertSame(SamplerOverrides.NONE, SamplerOverrides.parse("{}"));
        assertTrue(SamplerOverrides.NONE.isEmpty());
        assertEquals("{}", SamplerOverrides.NONE.canonicalJson());
        assertEquals("sampler_options", assertThrows(InvalidRequestException.class,
                () -> SamplerOverrides.parse("[1]")).field());
        assertEquals("sampler_options", assertThrows(InvalidRequestException.class,
                () -> SamplerOverrides.parse("{\"a\":")).field());
        GenerationRequest r = new GenerationRequest("p", "", 64, 64, 2, null, null, null, 1, 1);
        assertSame(SamplerOverrides.NONE, r.samplerOptions());
        assertSame(dev.sdcfg.guidance.GuidanceSpec.DEFAULT, r.guidance());
    }
}
