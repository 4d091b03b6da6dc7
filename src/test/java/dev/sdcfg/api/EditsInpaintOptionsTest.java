package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The inpainting options of POST /v1/images/generations (strength, mask_blur, inpaint_full_res,
 * inpaint_full_res_padding, masked_content) as form fields of POST /v1/images/edits, through real multipart requests
 * on the demo model: each reaches the engine (the pixels change, the PNG records it), and a bad value is refused with
 * the JSON route's status and field before anything is enqueued.
 */
@QuarkusTest
class EditsInpaintOptionsTest {

    private static final String EDITS = "/v1/images/edits";

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    /** 64×64 opaque gradient with a fully transparent square x, y in 16..47: the area to edit. */
    private static byte[] image() {
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean hole = x >= 16 && x < 48 && y >= 16 && y < 48;
                img.setRGB(x, y, (hole ? 0 : 0xff) << 24 | (x * 4) << 16 | (y * 4) << 8 | 0x40);
            }
        }
        return TestImages.encodeImage(img, "png");
    }

    /** The edit form with {@code fields} (name, value, name, value, …) added. */
    private static RequestSpecification form(String... fields) {
        RequestSpecification r = given().multiPart("prompt", "a red square").multiPart("steps", "4")
                .multiPart("seed", "11").multiPart("image", "image.png", image(), "image/png");
        for (int i = 0; i < fields.length; i += 2) {
            r = r.multiPart(fields[i], fields[i + 1]);
        }
        return r;
    }

    private record Edited(int[] pixels, Map<String, String> text) {
    }

    private static Edited edit(String... fields) {
        JsonPath j = form(fields).post(EDITS).then().statusCode(200).extract().jsonPath();
        byte[] out = Base64.getDecoder().decode(j.getString("data[0].b64_json"));
        BufferedImage img = png(out);
        return new Edited(img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth()),
                PngEncoder.readText(out));
    }

    /** Pixels are compared, not PNG bytes: the text chunks alone would differ. */
    private static void assertChanged(Edited base, Edited other, String what) {
        assertFalse(java.util.Arrays.equals(base.pixels(), other.pixels()), what + " changes the pixels");
    }

    @Test
    void eachOptionReachesTheEngine() {
        Edited base = edit();
        assertEquals("1.0", base.text().get("strength"));
        assertArrayEquals(base.pixels(), edit().pixels(), "the same form gives the same image");
        assertArrayEquals(base.pixels(), edit("mask_blur", "0", "inpaint_full_res", "false",
                "masked_content", "original", "strength", "1").pixels(), "the defaults written out change nothing");

        Edited blurred = edit("mask_blur", "8");
        assertChanged(base, blurred, "mask_blur 8");
        assertEquals("8", blurred.text().get("mask_blur"));

        Edited fullRes = edit("inpaint_full_res", "true");
        assertChanged(base, fullRes, "inpaint_full_res");
        assertEquals("32", fullRes.text().get("inpaint_full_res_padding"), "A1111's default padding");
        Edited padded = edit("inpaint_full_res", "TRUE", "inpaint_full_res_padding", "4");
        assertChanged(fullRes, padded, "inpaint_full_res_padding 4");
        assertEquals("4", padded.text().get("inpaint_full_res_padding"));

        Edited half = edit("strength", "0.5");
        assertChanged(base, half, "strength 0.5");
        assertEquals("0.5", half.text().get("strength"));
        assertNull(half.text().get("masked_content"));
        for (String mode : List.of("fill", "latent_noise", "latent_nothing")) {
            Edited m = edit("strength", "0.5", "masked_content", mode);
            assertChanged(half, m, "masked_content " + mode);
            assertEquals(mode, m.text().get("masked_content"));
        }
    }

    private static Map<String, String> problem(Response r, int status) {
        assertEquals(status, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
        List<Map<String, String>> errors = JsonPath.from(r.asString()).getList("errors");
        assertEquals(1, errors.size(), r.asString());
        return errors.get(0);
    }

    /** The field and message of the single error of a refused form; its status is {@code status}. */
    private static void refused(int status, String field, String message, String... fields) {
        Map<String, String> e = problem(form(fields).post(EDITS), status);
        assertEquals(field, e.get("field"), String.join(" ", fields));
        assertTrue(e.get("message").contains(message), e.get("message"));
    }

    @Test
    void badValuesAreRefusedAsTheJsonRouteRefusesThemAndNothingIsEnqueued() {
        long accepted = jobs.acceptedTotal();
        // out of range: RequestValidator's checks (InitImageField.checkCompanions), 400 as on the JSON route
        refused(400, "mask_blur", "must be between 0 and 64", "mask_blur", "-1");
        refused(400, "mask_blur", "must be between 0 and 64", "mask_blur", "65");
        refused(400, "strength", "must be between 0 and 1", "strength", "1.5");
        refused(400, "strength", "must be between 0 and 1", "strength", "-0.1");
        refused(400, "masked_content", "must be original, fill, latent_noise or latent_nothing",
                "masked_content", "latent noise");
        refused(400, "inpaint_full_res_padding", "only with inpaint_full_res true", "inpaint_full_res_padding", "8");
        refused(400, "inpaint_full_res_padding", "must be between 0 and 256", "inpaint_full_res", "true",
                "inpaint_full_res_padding", "257");
        refused(400, "inpaint_full_res_padding", "must be between 0 and 256", "inpaint_full_res", "true",
                "inpaint_full_res_padding", "-4");
        // malformed form values: 400, as a JSON value of the wrong type is
        refused(400, "mask_blur", "must be an integer", "mask_blur", "2.5");
        refused(400, "strength", "must be a number", "strength", "half");
        refused(400, "strength", "must be a number", "strength", "NaN");
        refused(400, "strength", "must be a finite number", "strength", "1e400");
        refused(400, "inpaint_full_res", "must be true or false", "inpaint_full_res", "yes");
        // what only the engine can tell: 422, as on the JSON route
        refused(422, "strength", "leaves no step to run", "strength", "0.1");
        assertEquals(accepted, jobs.acceptedTotal(), "no refused edit was enqueued");
    }

    @Test
    void openApiDocumentsEachFormField() {
        JsonPath doc = given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract()
                .jsonPath();
        String props = "paths.'" + EDITS + "'.post.requestBody.content.'multipart/form-data'.schema.properties";
        for (String field : List.of("strength", "mask_blur", "inpaint_full_res", "inpaint_full_res_padding",
                "masked_content")) {
            assertNotNull(doc.getString(props + "." + field + ".description"), field + " undocumented: "
                    + doc.getMap(props));
        }
        // a form value is text: SmallRye lists the String parameter's type beside the declared one
        assertTrue(doc.getList(props + ".mask_blur.type").contains("integer"), doc.getString(props + ".mask_blur"));
        assertTrue(doc.getList(props + ".strength.type").contains("number"), doc.getString(props + ".strength"));
        assertTrue(doc.getList(props + ".inpaint_full_res.type").contains("boolean"));
        assertEquals(64, doc.getInt(props + ".mask_blur.maximum"));
        assertEquals(List.of("original", "fill", "latent_noise", "latent_nothing"),
                doc.getList(props + ".masked_content.enum"));
        assertTrue(doc.getString("paths.'" + EDITS + "'.post.description").contains("masked_content"));
    }
}
