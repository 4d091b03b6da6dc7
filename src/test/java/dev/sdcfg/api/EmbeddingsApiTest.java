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
}
