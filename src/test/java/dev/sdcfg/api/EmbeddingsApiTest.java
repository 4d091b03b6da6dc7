package dev.sdcfg.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.nullValue;

/**
 * GET /v1/embeddings lists sd.embeddings.dir: each file's name, vector count and width, read with the same
 * TextualInversionFile the parity test checks; a file that cannot be read is listed with the reason.
 */
@QuarkusTest
@TestProfile(ModelsFolderProfile.class)
class EmbeddingsApiTest {

    @jakarta.inject.Inject
    dev.sdcfg.jobs.JobService jobs;

    @Test
    void listsNameVectorsAndWidth() {
        given().get("/v1/embeddings").then().statusCode(200)
                .body("object", equalTo("list"))
                .body("data", hasSize(3))
                .body("data.id", org.hamcrest.Matchers.contains("broken", "narrow", "tiny-ti"))
                .body("data.find { it.id == 'tiny-ti' }.object", equalTo("embedding"))
                .body("data.find { it.id == 'tiny-ti' }.vectors", equalTo(2))
                .body("data.find { it.id == 'tiny-ti' }.dim", equalTo(32))
                .body("data.find { it.id == 'tiny-ti' }.error", nullValue())
                .body("data.find { it.id == 'narrow' }.vectors", equalTo(1))
                .body("data.find { it.id == 'narrow' }.dim", equalTo(16))
                .body("data.find { it.id == 'broken' }.vectors", nullValue())
                .body("data.find { it.id == 'broken' }.error", containsString("broken.safetensors"));
    }

    private static io.restassured.response.ValidatableResponse post(String body) {
        return given().contentType(ApiTestSupport.JSON).body(body).post("/v1/jobs").then();
    }

    private static int[] image(String prompt) {
        String id = post("{\"prompt\": \"" + prompt + "\", \"size\": \"64x64\", \"seed\": 7, \"steps\": 2, "
                + "\"prompt_syntax\": \"plain\"}").statusCode(202).extract().path("id");
        ApiTestSupport.awaitStatus(id, "succeeded");
        byte[] png = given().get("/v1/jobs/" + id + "/images/0").then().statusCode(200).extract().asByteArray();
        return ApiTestSupport.png(png).getRGB(0, 0, 64, 64, null, 0, 64);
    }

    /**
     * A plain-syntax prompt naming tiny-ti draws the same image twice and another than the prompt without the name
     * (PromptEmbeddingsTest checks the encoding against diffusers); a named embedding that cannot be used is a 422,
     * in either syntax (in A1111's, names match as tokens: "Broken" names broken).
     */
    @Test
    void plainPromptUsesTheEmbeddingAndBadOnesAre422() {
        ApiTestSupport.awaitReady(jobs);
        int[] a = image("a photo of tiny-ti on a table");
        int[] b = image("a photo of tiny-ti on a table");
        int[] c = image("a photo of on a table");
        org.junit.jupiter.api.Assertions.assertArrayEquals(a, b);
        org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(a, c));
        post("{\"prompt\": \"a narrow road\", \"size\": \"64x64\", \"prompt_syntax\": \"plain\"}")
                .statusCode(422).contentType(ApiTestSupport.PROBLEM)
                .body("errors.find { it.field == 'prompt' }.message", containsString("'narrow' is 16 wide"));
        post("{\"prompt\": \"a\", \"negative_prompt\": \"broken\", \"size\": \"64x64\", "
                + "\"prompt_syntax\": \"plain\"}")
                .statusCode(422)
                .body("errors.find { it.field == 'negative_prompt' }.message", containsString("'broken' cannot be read"));
        // the default syntax (a1111) uses embeddings too, with the same 422s for those that cannot be used
        String id = post("{\"prompt\": \"a photo of tiny-ti\", \"size\": \"64x64\", \"steps\": 1}")
                .statusCode(202).extract().path("id");
        ApiTestSupport.awaitStatus(id, "succeeded");
        post("{\"prompt\": \"a (narrow:1.2) road\", \"size\": \"64x64\"}").statusCode(422)
                .body("errors.find { it.field == 'prompt' }.message", containsString("'narrow' is 16 wide"));
        post("{\"prompt\": \"a\", \"negative_prompt\": \"Broken\", \"size\": \"64x64\"}").statusCode(422)
                .body("errors.find { it.field == 'negative_prompt' }.message", containsString("'broken' cannot be read"));
    }
}
