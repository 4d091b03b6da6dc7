package dev.sdcfg.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OpenAPI document lists every endpoint, documents errors as problem+json, and Swagger UI is served. */
@QuarkusTest
class OpenApiTest {

    static final Map<String, List<String>> ENDPOINTS = Map.ofEntries(
            Map.entry("/v1/jobs/{id}/events", List.of("get")),
            Map.entry("/v1/images/generations", List.of("post")),
            Map.entry("/v1/png-info", List.of("post")),
            Map.entry("/v1/jobs", List.of("post")),
            Map.entry("/v1/jobs/{id}", List.of("get", "delete")),
            Map.entry("/v1/jobs/{id}/images/{index}", List.of("get")),
            Map.entry("/v1/jobs/{id}/grid", List.of("get")),
            Map.entry("/v1/experiments", List.of("post")),
            Map.entry("/v1/guidance", List.of("get")),
            Map.entry("/v1/samplers", List.of("get")),
            Map.entry("/v1/models", List.of("get")));

    @Test
    void documentListsEveryEndpointWithErrorsAndExamples() {
        JsonPath doc = given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract().jsonPath();
        Map<String, Object> paths = doc.getMap("paths");
        for (Map.Entry<String, List<String>> e : ENDPOINTS.entrySet()) {
            assertTrue(paths.containsKey(e.getKey()), "missing path " + e.getKey() + " in " + paths.keySet());
            for (String method : e.getValue()) {
                String op = "paths.'" + e.getKey() + "'." + method;
                assertNotNull(doc.get(op), "missing " + method + " " + e.getKey());
                assertNotNull(doc.getString(op + ".summary"), "no summary for " + method + " " + e.getKey());
                Map<String, Object> responses = doc.getMap(op + ".responses");
                assertFalse(responses.isEmpty(), "no responses for " + method + " " + e.getKey());
                boolean problemDocumented = responses.keySet().stream().filter(code -> code.startsWith("4") || code.startsWith("5"))
                        .anyMatch(code -> doc.get(op + ".responses.'" + code + "'.content.'application/problem+json'") != null);
                if (!e.getKey().equals("/v1/models")) {
                    assertTrue(problemDocumented, "no problem+json error documented for " + method + " " + e.getKey());
                }
            }
        }
        // request bodies carry examples; schemas describe every field
        assertNotNull(doc.get("paths.'/v1/images/generations'.post.requestBody.content.'application/json'.examples.full"));
        assertNotNull(doc.get("paths.'/v1/experiments'.post.requestBody.content.'application/json'.examples"));
        Map<String, Object> req = doc.getMap("components.schemas.ImageGenerationRequest.properties");
        for (String field : List.of("prompt", "negative_prompt", "n", "size", "width", "height", "response_format",
                "seed", "steps", "sampler", "sampler_options", "guidance", "webhook", "webhook_events", "preview_every",
                "init_image", "prompt_syntax", "strength", "mask", "mask_blur", "inpaint_full_res", "inpaint_full_res_padding", "masked_content", "hires")) {
            assertTrue(req.containsKey(field), "ImageGenerationRequest." + field + " undocumented: " + req.keySet());
            assertNotNull(doc.getString("components.schemas.ImageGenerationRequest.properties." + field + ".description"),
                    field + " has no description");
        }
        Map<String, Object> hires = doc.getMap("components.schemas.HiresRequest.properties");
        assertEquals(java.util.Set.of("scale", "steps", "strength", "upscaler"), hires.keySet());
        Map<String, Object> problem = doc.getMap("components.schemas.Problem.properties");
        for (String field : List.of("type", "title", "status", "detail", "errors")) {
            assertTrue(problem.containsKey(field), "Problem." + field);
        }
        Map<String, Map<String, Object>> schemas = doc.getMap("components.schemas");
        for (Map.Entry<String, Map<String, Object>> schema : schemas.entrySet()) {
            Map<String, Map<String, Object>> props = doc.getMap("components.schemas." + schema.getKey() + ".properties");
            if (props == null) {
                continue;
            }
            for (Map.Entry<String, Map<String, Object>> prop : props.entrySet()) {
                assertNotNull(prop.getValue().get("description"),
                        "field " + schema.getKey() + "." + prop.getKey() + " is undocumented");
            }
        }
        assertFalse(schemas.containsKey("JsonNode"), "free JSON fields must not leak Jackson's JsonNode as a schema");
        assertNotNull(doc.get("paths.'/v1/images/generations'.post.responses.'200'.content.'image/png'"));
        assertNotNull(doc.get("paths.'/v1/jobs'.post.responses.'429'.headers.Retry-After"));
        // the event streams: GET .../events, and POST /v1/jobs with Accept: text/event-stream, both with the preview event
        for (String op : List.of("paths.'/v1/jobs/{id}/events'.get.responses.'200'", "paths.'/v1/jobs'.post.responses.'200'")) {
            String example = doc.getString(op + ".content.'text/event-stream'.examples.events.value");
            assertNotNull(example, op + " documents no event stream");
            assertTrue(example.contains("event: preview") && example.contains("png_base64"), op + ": " + example);
        }
        assertTrue(doc.getString("paths.'/v1/jobs/{id}/events'.get.description").contains("preview_every"));
        assertTrue(doc.getString("paths.'/v1/jobs'.post.description").contains("text/event-stream"));
        assertEquals("0", String.valueOf(doc.getInt("components.schemas.ImageGenerationRequest.properties.preview_every.minimum")));
    }

    @Test
    void swaggerUiIsServed() {
        String html = given().get("/q/swagger-ui/").then().statusCode(200).extract().asString();
        assertTrue(html.toLowerCase().contains("swagger"), "swagger ui page");
    }
}
