package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.nullValue;

/** GET /v1/models lists the models folder; a request's model picks one; an unknown one is a 422. */
@QuarkusTest
@TestProfile(ModelsFolderProfile.class)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class ModelsFolderApiTest {

    @Inject
    JobService jobs;

    private static io.restassured.response.ValidatableResponse post(String path, String body) {
        return given().contentType(JSON).body(body).post(path).then();
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void listedSelectableAndUnknownIs422() {
        ApiTestSupport.awaitReady(jobs);
        given().get("/v1/models").then().statusCode(200)
                .body("data", hasSize(2))
                .body("data.id", hasItems("folder", "tiny"))
                .body("default", equalTo("folder"))
                .body("resident", equalTo("folder"))
                .body("data.find { it.id == 'folder' }.loaded", equalTo(true))
                .body("data.find { it.id == 'folder' }.format", equalTo("diffusers"))
                .body("data.find { it.id == 'folder' }.hash", nullValue())
                .body("data.find { it.id == 'folder' }.native_size", equalTo(128))
                .body("data.find { it.id == 'tiny' }.loaded", equalTo(false))
                .body("data.find { it.id == 'tiny' }.format", equalTo("single-file"))
                .body("data.find { it.id == 'tiny' }.family", equalTo("SD 1.x"))
                .body("data.find { it.id == 'tiny' }.hash", matchesPattern("[0-9a-f]{10}"));

        post("/v1/images/generations", "{\"prompt\": \"a\", \"size\": \"64x64\", \"model\": \"nope\"}")
                .statusCode(422).contentType(PROBLEM)
                .body("errors.find { it.field == 'model' }.message", containsString("unknown model 'nope'"));
        post("/v1/images/generations", "{\"prompt\": \"a\", \"size\": \"64x64\", \"model\": \"../folder\"}").statusCode(422);

        String id = post("/v1/jobs", "{\"prompt\": \"a\", \"size\": \"64x64\", \"model\": \"tiny\"}").statusCode(202)
                .extract().path("id");
        ApiTestSupport.awaitStatus(id, "succeeded");
        given().get("/v1/models").then().statusCode(200)
                .body("resident", equalTo("tiny"))
                .body("data.find { it.id == 'tiny' }.loaded", equalTo(true))
                .body("data.find { it.id == 'tiny' }.path", containsString("tiny.safetensors"))
                .body("data.find { it.id == 'folder' }.loaded", equalTo(false));
        given().get("/q/metrics").then().statusCode(200).body(containsString("sd_model_swap_seconds_count 1.0"));
    }

    @Test
    @org.junit.jupiter.api.Order(2)
    void lorasAreListedAndNamedByFieldOrPromptTag() {
        ApiTestSupport.awaitReady(jobs);
        given().get("/v1/loras").then().statusCode(200).body("data.id", hasItems("pixel"))
                .body("data[0].object", equalTo("lora"));
        post("/v1/jobs", "{\"prompt\": \"a\", \"size\": \"64x64\", \"loras\": [{\"name\": \"nope\"}]}")
                .statusCode(422).contentType(PROBLEM)
                .body("errors.find { it.field == 'loras' }.message", containsString("unknown LoRA 'nope'"));
        post("/v1/jobs", "{\"prompt\": \"a <lora:../pixel:1>\", \"size\": \"64x64\"}").statusCode(422);
        post("/v1/jobs", "{\"prompt\": \"a\", \"size\": \"64x64\", \"loras\": [{\"name\": \"pixel\", "
                + "\"weight\": 1e9}]}").statusCode(400)
                .body("errors.find { it.field == 'loras[0].weight' }.message", containsString("-10..10"));
        post("/v1/jobs", "{\"prompt\": \"a <lora:pixel:x>\", \"size\": \"64x64\"}").statusCode(400);
        String id = post("/v1/jobs", "{\"prompt\": \"a lighthouse <lora:pixel:0.7>\", \"size\": \"64x64\", \"seed\": 7,"
                + " \"model\": \"tiny\"}").statusCode(202).extract().path("id");
        ApiTestSupport.awaitStatus(id, "succeeded");
        String id2 = post("/v1/jobs", "{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"seed\": 7, \"model\": \"tiny\","
                + " \"loras\": [{\"name\": \"pixel\", \"weight\": 0.7}]}").statusCode(202)
                .extract().path("id");
        io.restassured.path.json.JsonPath view = ApiTestSupport.awaitStatus(id2, "succeeded");
        org.junit.jupiter.api.Assertions.assertEquals("tiny", view.getString("request.model"));
        org.junit.jupiter.api.Assertions.assertEquals("pixel", view.getString("request.loras[0].name"));
        org.junit.jupiter.api.Assertions.assertEquals(0.7, view.getDouble("request.loras[0].weight"), 0.0);
        // the tag is taken out of the prompt: both requests are the same job, so the same image
        byte[] a = given().get("/v1/jobs/" + id + "/images/0").then().statusCode(200).extract().asByteArray();
        byte[] b = given().get("/v1/jobs/" + id2 + "/images/0").then().statusCode(200).extract().asByteArray();
        java.awt.image.BufferedImage ia = ApiTestSupport.png(a);
        java.awt.image.BufferedImage ib = ApiTestSupport.png(b);
        org.junit.jupiter.api.Assertions.assertArrayEquals(ia.getRGB(0, 0, 64, 64, null, 0, 64),
                ib.getRGB(0, 0, 64, 64, null, 0, 64));
    }
}
