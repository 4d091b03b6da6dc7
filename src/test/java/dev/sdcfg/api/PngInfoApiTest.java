package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PNG {@code parameters} chunk and {@code POST /v1/png-info} on the demo model: an image made from a long,
 * weighted A1111 prompt (two 75-token chunks, the negative prompt padded to them) carries A1111 infotext; png-info
 * reads it back (PNG body and base64 JSON give the same answer) into a request that regenerates the same PNG, byte
 * for byte. Also: prompt_syntax values, the chunk limit, and png-info's bad inputs.
 */
@QuarkusTest
class PngInfoApiTest {

    /** 21 × (3–4 tokens + comma) > 75 tokens: two chunks, with weights, escapes and a BREAK-free comma backtrack. */
    private static final String PROMPT = "(masterpiece:1.2), best quality, [blurry], a lighthouse on a cliff, "
            + "stormy sea, dramatic clouds, golden hour light, volumetric fog, oil painting, intricate brushwork, "
            + "rich textures, deep shadows, (highlights on the waves), seagulls in the distance, a small boat, "
            + "weathered stone walls, a warm glow from the lantern, wind in the grass, a narrow path, \\(literal\\), "
            + "distant mountains, wide angle, sharp focus";

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    private static byte[] generate(String body) {
        return given().contentType(JSON).accept("image/png").body(body).post("/v1/images/generations")
                .then().statusCode(200).contentType("image/png").extract().asByteArray();
    }

    @Test
    void infotextRoundTripsAndRegeneratesTheSamePng() {
        String body = "{\"prompt\": " + quote(PROMPT) + ", \"negative_prompt\": \"lowres, (bad hands:1.3)\", "
                + "\"size\": \"72x64\", \"steps\": 2, \"seed\": 4242, \"sampler\": \"euler_ancestral\", "
                + "\"guidance\": {\"normalizer\": \"fullnorm\", \"g\": {\"schedule\": \"cosine\", \"max\": 0.25, "
                + "\"min\": 0.05}}}";
        byte[] first = generate(body);
        String parameters = PngEncoder.readText(first).get("parameters");
        assertTrue(parameters.startsWith(PROMPT + "\nNegative prompt: lowres, (bad hands:1.3)\nSteps: 2, "
                + "Sampler: Euler a, CFG scale: 0.25, Seed: 4242, Size: 72x64, "), parameters);

        JsonPath info = given().contentType("image/png").body(first).post("/v1/png-info")
                .then().statusCode(200).contentType(JSON).extract().jsonPath();
        assertEquals(parameters, info.getString("parameters"));
        assertEquals(PROMPT, info.getString("prompt"));
        assertEquals("72", info.getString("params.Size-1"));
        Map<String, Object> request = info.getMap("request");
        assertEquals("euler_ancestral", request.get("sampler"));
        assertEquals(4242, ((Number) request.get("seed")).intValue());

        String b64 = "{\"image\": \"data:image/png;base64," + Base64.getEncoder().encodeToString(first) + "\"}";
        JsonPath viaJson = given().contentType(JSON).body(b64).post("/v1/png-info")
                .then().statusCode(200).extract().jsonPath();
        assertEquals(info.getMap("request"), viaJson.getMap("request"));

        byte[] second = given().contentType(JSON).accept("image/png").body(request).post("/v1/images/generations")
                .then().statusCode(200).extract().asByteArray();
        assertArrayEquals(first, second, "the request from png-info regenerates the same PNG");
    }

    @Test
    void promptSyntaxPlainDiffersFromA1111WhenTheTextHasWeights() {
        String a1111 = "{\"prompt\": \"a (red:1.5) fox\", \"size\": \"64x64\", \"steps\": 2, \"seed\": 3}";
        String plain = "{\"prompt\": \"a (red:1.5) fox\", \"size\": \"64x64\", \"steps\": 2, \"seed\": 3, "
                + "\"prompt_syntax\": \"plain\"}";
        byte[] w = generate(a1111);
        byte[] p = generate(plain);
        assertTrue(PngEncoder.readText(p).get("parameters").contains("Prompt syntax: plain"));
        assertTrue(!PngEncoder.readText(w).get("parameters").contains("Prompt syntax"));
        assertTrue(!java.util.Arrays.equals(PngEncoder.decode(w).getRGB(0, 0, 64, 64, null, 0, 64),
                PngEncoder.decode(p).getRGB(0, 0, 64, 64, null, 0, 64)), "weights change the image");
    }

    @Test
    void badPromptSyntaxAndTooManyChunksAreRejected() {
        given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\", \"prompt_syntax\": \"comfy\"}")
                .post("/v1/images/generations").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("prompt_syntax"));
        String longPrompt = "a, ".repeat(660);
        given().contentType(JSON).body("{\"prompt\": \"" + longPrompt + "\", \"size\": \"64x64\"}")
                .post("/v1/images/generations").then().statusCode(422).contentType(PROBLEM)
                .body("detail", containsString("sd.limits.max-prompt-chunks"));
        given().contentType(JSON).body("{\"prompt\": \"a (b:1.2.3)\", \"size\": \"64x64\"}")
                .post("/v1/images/generations").then().statusCode(422).contentType(PROBLEM)
                .body("detail", containsString("not a number"));
        // the same texts are fine as plain prompts
        given().contentType(JSON).accept("image/png")
                .body("{\"prompt\": \"a (b:1.2.3)\", \"size\": \"64x64\", \"steps\": 1, \"prompt_syntax\": \"plain\"}")
                .post("/v1/images/generations").then().statusCode(200);
    }

    @Test
    void pngInfoBadInputs() {
        given().contentType("image/png").body(new byte[] {1, 2, 3}).post("/v1/png-info")
                .then().statusCode(400).contentType(PROBLEM);
        given().contentType("text/plain").body("x").post("/v1/png-info")
                .then().statusCode(415).contentType(PROBLEM);
        byte[] noText = PngEncoder.encode(new int[64], 8, 8, Map.of("Software", "x"));
        given().contentType("image/png").body(noText).post("/v1/png-info")
                .then().statusCode(422).contentType(PROBLEM).body("detail", containsString("parameters"));
        given().contentType(JSON).body("{\"image\": \"%%%\"}").post("/v1/png-info")
                .then().statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("image"));
        given().contentType(JSON).body("{}").post("/v1/png-info").then().statusCode(400).contentType(PROBLEM);
        given().contentType(JSON).body("{\"image\": \"" + Base64.getEncoder().encodeToString(new byte[] {(byte) 0x89,
                'P', 'N', 'G', 0, 0, 0, 0, 0}) + "\"}").post("/v1/png-info").then().statusCode(400).contentType(PROBLEM);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
