package dev.sdcfg.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The edge hands the engine a Gson tree made from the request's Jackson tree. It must be the tree the engine got
 * before, when the field went through text (Jackson wrote it, Gson read it): the same JSON text and the same double
 * for every number; and the way back (the job's echo) must write the same text again.
 */
class JsonTreesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {
        "7.5",
        "3",
        "-0.0",
        "1e-400",
        "1e30",
        "0.30000000000000004",
        "9007199254740993",
        "123456789012345678901234567890",
        "{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15,\"warmup\":0.1}}",
        "{\"normalizer\":\"apg\",\"g\":[7,6.5,1E2,2.0],\"interval\":{\"start\":0,\"end\":0.6}}",
        "{\"use_karras_sigmas\":true,\"timestep_spacing\":\"trailing\",\"beta_start\":0.00085,\"solver_order\":2,"
                + "\"disable_corrector\":[0,1],\"variance_type\":null,\"s\":\"a\\\"b\\u00e9\\u2028\"}",
        "{\"preset\":\"FullNormGuidance_Sched_TCos\",\"g\":{\"schedule\":\"array\",\"values\":[]}}"
    })
    void theTreeIsTheOneTheTextRouteGave(String body) throws Exception {
        JsonNode node = JSON.readTree(body);
        JsonElement viaText = JsonParser.parseString(JSON.writeValueAsString(node));
        JsonElement viaTree = JsonTrees.toGson(node);
        assertEquals(viaText.toString(), viaTree.toString());
        assertEquals(viaText, viaTree);
        assertDoublesEqual(viaText, viaTree);
        assertEquals(JSON.writeValueAsString(node), JSON.writeValueAsString(JsonTrees.toJackson(viaTree)));
        assertEquals(JSON.writeValueAsString(node), JSON.writeValueAsString(JsonTrees.toJackson(viaText)),
                "a tree read back from stored text echoes the same");
    }

    private static void assertDoublesEqual(JsonElement a, JsonElement b) {
        if (a.isJsonObject()) {
            for (String k : a.getAsJsonObject().keySet()) {
                assertDoublesEqual(a.getAsJsonObject().get(k), b.getAsJsonObject().get(k));
            }
        } else if (a.isJsonArray()) {
            for (int i = 0; i < a.getAsJsonArray().size(); i++) {
                assertDoublesEqual(a.getAsJsonArray().get(i), b.getAsJsonArray().get(i));
            }
        } else if (a.isJsonPrimitive() && a.getAsJsonPrimitive().isNumber()) {
            assertEquals(Double.doubleToRawLongBits(a.getAsDouble()), Double.doubleToRawLongBits(b.getAsDouble()),
                    a.toString());
        }
    }
}
