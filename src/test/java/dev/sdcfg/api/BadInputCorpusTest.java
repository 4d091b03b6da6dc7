package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malformed and out-of-range requests: each is answered 4xx with an RFC 9457 problem naming the field, and
 * nothing is enqueued (the service's accepted/held/queued counts do not move).
 */
@QuarkusTest
class BadInputCorpusTest {

    static final String GEN = "/v1/images/generations";
    static final String JOBS = "/v1/jobs";
    static final String EXP = "/v1/experiments";
    static final String JSON = "application/json";

    @Inject
    JobService jobs;

    @Inject
    MeterRegistry registry;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
        ApiTestSupport.awaitIdle(jobs);
    }

    /** name, path, content type (null: none), Accept (null: default), body, status, field expected in errors (null: any). */
    static Stream<Arguments> corpus() {
        List<Arguments> c = new ArrayList<>();
        // --- syntax and shape
        c.add(a("invalid JSON (unterminated)", GEN, JSON, null, "{\"prompt\": \"x\",", 400, ""));
        c.add(a("not JSON at all", GEN, JSON, null, "hello", 400, ""));
        c.add(a("empty body", GEN, JSON, null, "", 400, ""));
        c.add(a("JSON array body", GEN, JSON, null, "[]", 400, ""));
        c.add(a("JSON string body", GEN, JSON, null, "\"a cat\"", 400, ""));
        c.add(a("JSON null body", GEN, JSON, null, "null", 400, ""));
        c.add(a("trailing garbage", GEN, JSON, null, "{\"prompt\": \"a\"} x", 400, ""));
        c.add(a("duplicate key", GEN, JSON, null, "{\"prompt\": \"a\", \"prompt\": \"b\"}", 400, "prompt"));
        c.add(a("duplicate key in guidance", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"g\": 1, \"g\": 2}}",
                400, "guidance.g"));
        c.add(a("duplicate key in a schedule", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": {\"schedule\": \"cosine\", \"max\": 1, \"max\": 2}}}", 400,
                "guidance.g.max"));
        c.add(a("duplicate key in sampler_options", GEN, JSON, null, "{\"prompt\": \"a\", \"sampler_options\": "
                + "{\"use_karras_sigmas\": true, \"use_karras_sigmas\": false}}", 400, "sampler_options.use_karras_sigmas"));
        c.add(a("whitespace body", JOBS, JSON, null, "  \n ", 400, ""));
        c.add(a("JSON number body", JOBS, JSON, null, "42", 400, ""));
        c.add(a("NaN literal", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": NaN}", 400, ""));
        c.add(a("unknown field with null value", GEN, JSON, null, "{\"prompt\": \"a\", \"foo\": null}", 400, "foo"));
        c.add(a("field name in the wrong case", GEN, JSON, null, "{\"prompt\": \"a\", \"Steps\": 2}", 400, "Steps"));
        c.add(a("unknown top-level field", GEN, JSON, null, "{\"prompt\": \"a\", \"foo\": 1}", 400, "foo"));
        c.add(a("dall-e-3 field", GEN, JSON, null, "{\"prompt\": \"a\", \"quality\": \"hd\"}", 400, "quality"));
        c.add(a("wrong content type", GEN, "text/plain", null, "{\"prompt\": \"a\"}", 415, "Content-Type"));
        c.add(a("form content type", JOBS, "application/x-www-form-urlencoded", null, "prompt=a", 415, "Content-Type"));
        c.add(a("no or wildcard content type", JOBS, null, null, "{\"prompt\": \"a\"}", 415, "Content-Type"));
        c.add(a("text/json content type", JOBS, "text/json", null, "{\"prompt\": \"a\"}", 415, "Content-Type"));
        c.add(a("vendor +json content type", GEN, "application/vnd.example+json", null, "{\"prompt\": \"a\"}", 415,
                "Content-Type"));
        c.add(a("application/* content type", EXP, "application/*", null, "{\"prompt\": \"a\"}", 415, "Content-Type"));
        c.add(a("Accept the service cannot produce (jobs)", JOBS, JSON, "application/xml", "{\"prompt\": \"a\"}", 406,
                "Accept"));
        c.add(a("Accept the service cannot produce (generations)", GEN, JSON, "text/html", "{\"prompt\": \"a\"}", 406,
                "Accept"));
        c.add(a("POST to a read-only path", "/v1/samplers", JSON, null, "{\"prompt\": \"a\"}", 405, null));
        c.add(a("POST to a job", "/v1/jobs/3f1c0b7e-8d54-4c55-9f0e-7a6b2c1d0e9f", JSON, null, "{\"prompt\": \"a\"}", 405,
                null));
        // --- prompt
        c.add(a("missing prompt", GEN, JSON, null, "{}", 400, "prompt"));
        c.add(a("blank prompt", GEN, JSON, null, "{\"prompt\": \"   \"}", 400, "prompt"));
        c.add(a("prompt is a number", GEN, JSON, null, "{\"prompt\": 42}", 400, "prompt"));
        c.add(a("prompt is null", GEN, JSON, null, "{\"prompt\": null}", 400, "prompt"));
        c.add(a("prompt too long", GEN, JSON, null, "{\"prompt\": \"" + "a".repeat(2001) + "\"}", 400, "prompt"));
        c.add(a("prompt with NUL", GEN, JSON, null, "{\"prompt\": \"a\\u0000b\"}", 400, "prompt"));
        c.add(a("negative prompt is an array", GEN, JSON, null, "{\"prompt\": \"a\", \"negative_prompt\": [\"x\"]}", 400,
                "negative_prompt"));
        c.add(a("negative prompt too long", GEN, JSON, null,
                "{\"prompt\": \"a\", \"negative_prompt\": \"" + "b".repeat(2001) + "\"}", 400, "negative_prompt"));
        // --- n
        c.add(a("n = 0", GEN, JSON, null, "{\"prompt\": \"a\", \"n\": 0}", 400, "n"));
        c.add(a("n above max", GEN, JSON, null, "{\"prompt\": \"a\", \"n\": 5}", 400, "n"));
        c.add(a("n as string", GEN, JSON, null, "{\"prompt\": \"a\", \"n\": \"2\"}", 400, "n"));
        c.add(a("n fractional", GEN, JSON, null, "{\"prompt\": \"a\", \"n\": 1.5}", 400, "n"));
        c.add(a("n overflows int", GEN, JSON, null, "{\"prompt\": \"a\", \"n\": 99999999999}", 400, "n"));
        c.add(a("n = 2 with Accept image/png", GEN, JSON, "image/png", "{\"prompt\": \"a\", \"n\": 2}", 406, "n"));
        // --- size
        c.add(a("size without x", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": \"512\"}", 400, "size"));
        c.add(a("size not numeric", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": \"abcxdef\"}", 400, "size"));
        c.add(a("size not a multiple of 8", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": \"500x512\"}", 400, "size"));
        c.add(a("size huge", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": \"4096x4096\"}", 400, "size"));
        c.add(a("size too small", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": \"32x32\"}", 400, "size"));
        c.add(a("size as number", GEN, JSON, null, "{\"prompt\": \"a\", \"size\": 512}", 400, "size"));
        c.add(a("width not a multiple of 8", GEN, JSON, null, "{\"prompt\": \"a\", \"width\": 100}", 400, "width"));
        c.add(a("width disagrees with size", GEN, JSON, null,
                "{\"prompt\": \"a\", \"size\": \"128x128\", \"width\": 64}", 400, "width"));
        c.add(a("negative height", GEN, JSON, null, "{\"prompt\": \"a\", \"height\": -8}", 400, "height"));
        c.add(a("width overflows int", GEN, JSON, null, "{\"prompt\": \"a\", \"width\": 99999999999}", 400, "width"));
        c.add(a("height above max size", GEN, JSON, null, "{\"prompt\": \"a\", \"width\": 1024, \"height\": 1032}", 400,
                "height"));
        c.add(a("width as a fraction", GEN, JSON, null, "{\"prompt\": \"a\", \"width\": 64.5}", 400, "width"));
        // --- steps, seed, format
        c.add(a("steps = 0", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": 0}", 400, "steps"));
        c.add(a("steps above max", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": 1000}", 400, "steps"));
        c.add(a("steps as word", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": \"ten\"}", 400, "steps"));
        c.add(a("steps boolean", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": true}", 400, "steps"));
        c.add(a("steps 2.5", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": 2.5}", 400, "steps"));
        c.add(a("steps 2.0 (integers have no fraction part)", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": 2.0}", 400,
                "steps"));
        c.add(a("steps 1e400", GEN, JSON, null, "{\"prompt\": \"a\", \"steps\": 1e400}", 400, "steps"));
        c.add(a("negative seed", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": -1}", 400, "seed"));
        c.add(a("seed 2^53", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": 9007199254740992}", 400, "seed"));
        c.add(a("seed as float", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": 1e30}", 400, "seed"));
        c.add(a("seed beyond long", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": 123456789012345678901234567890}",
                400, "seed"));
        c.add(a("seed 2^64", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": 18446744073709551616}", 400, "seed"));
        c.add(a("seed far below long", JOBS, JSON, null, "{\"prompt\": \"a\", \"seed\": -99999999999999999999999}", 400,
                "seed"));
        c.add(a("seed with 500 digits", JOBS, JSON, null, "{\"prompt\": \"a\", \"seed\": " + "9".repeat(500) + "}", 400,
                "seed"));
        c.add(a("seed as string", GEN, JSON, null, "{\"prompt\": \"a\", \"seed\": \"42\"}", 400, "seed"));
        c.add(a("unknown response_format", GEN, JSON, null, "{\"prompt\": \"a\", \"response_format\": \"png\"}", 400,
                "response_format"));
        c.add(a("model name too long", GEN, JSON, null, "{\"prompt\": \"a\", \"model\": \"" + "m".repeat(201) + "\"}",
                400, "model"));
        c.add(a("several errors at once", GEN, JSON, null, "{\"prompt\": \"\", \"n\": 9, \"steps\": 0}", 400, "steps"));
        // --- sampler
        c.add(a("unknown sampler", GEN, JSON, null, "{\"prompt\": \"a\", \"sampler\": \"nope\"}", 422, "sampler"));
        c.add(a("sampler with odd characters", GEN, JSON, null, "{\"prompt\": \"a\", \"sampler\": \"eu ler!\"}", 400,
                "sampler"));
        c.add(a("sampler_options not an object", GEN, JSON, null, "{\"prompt\": \"a\", \"sampler_options\": [1, 2]}",
                400, "sampler_options"));
        c.add(a("unknown sampler option", GEN, JSON, null, "{\"prompt\": \"a\", \"sampler_options\": {\"bogus\": 1}}",
                422, "sampler_options.bogus"));
        // --- guidance
        c.add(a("guidance as string", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": \"high\"}", 400, "guidance"));
        c.add(a("guidance as array", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": [1, 2]}", 400, "guidance"));
        c.add(a("guidance boolean", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": true}", 400, "guidance"));
        c.add(a("negative guidance scale", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": -1}", 422, "guidance"));
        c.add(a("guidance \"NaN\" as a string", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": \"NaN\"}", 400,
                "guidance"));
        c.add(a("guidance \"Infinity\" as a string", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": \"Infinity\"}",
                400, "guidance"));
        c.add(a("guidance 1e400", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": 1e400}", 400, "guidance"));
        c.add(a("guidance -1e400", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": -1e400}", 400, "guidance"));
        c.add(a("guidance scale 1e30", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": 1e30}", 422, "guidance"));
        c.add(a("g 1e400 in a spec", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"g\": 1e400}}", 400,
                "guidance.g"));
        c.add(a("g as \"NaN\" string in a spec", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"g\": \"NaN\"}}",
                422, "guidance.g"));
        c.add(a("schedule max 1e400", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": {\"schedule\": \"cosine\", \"max\": 1e400}}}", 400,
                "guidance.g.max"));
        c.add(a("schedule array with -1e400", GEN, JSON, null,
                "{\"prompt\": \"a\", \"steps\": 2, \"guidance\": {\"g\": [7, -1e400]}}", 400, "guidance.g[1]"));
        c.add(a("integer beyond a double in a spec", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": 1" + "0".repeat(400) + "}}", 400, "guidance.g"));
        c.add(a("sampler option 1e400", GEN, JSON, null,
                "{\"prompt\": \"a\", \"sampler\": \"euler\", \"sampler_options\": {\"beta_start\": 1e400}}", 400,
                "sampler_options.beta_start"));
        c.add(a("unknown normalizer", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"normalizer\": \"bogus\"}}",
                422, "guidance.normalizer"));
        c.add(a("unknown schedule", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": {\"schedule\": \"zigzag\"}}}", 422, "guidance.g.schedule"));
        c.add(a("schedule array of wrong length", GEN, JSON, null,
                "{\"prompt\": \"a\", \"steps\": 2, \"guidance\": {\"g\": [7, 7, 7]}}", 422, "guidance.g"));
        c.add(a("schedule array with a string", GEN, JSON, null,
                "{\"prompt\": \"a\", \"steps\": 2, \"guidance\": {\"g\": [\"a\", 7]}}", 422, "guidance.g[0]"));
        c.add(a("schedule max not a number", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": {\"schedule\": \"cosine\", \"max\": \"big\"}}}", 422,
                "guidance.g.max"));
        c.add(a("unknown preset", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"preset\": \"Nope\"}}", 422,
                "guidance.preset"));
        c.add(a("reversed interval", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"interval\": [0.8, 0.2]}}", 422, "guidance.interval"));
        c.add(a("unknown guidance parameter", GEN, JSON, null, "{\"prompt\": \"a\", \"guidance\": {\"zeta\": 1}}", 422,
                "guidance.zeta"));
        c.add(a("huge guidance spec", GEN, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"g\": [" + "7,".repeat(9000) + "7]}}", 400, "guidance"));
        // --- /v1/jobs
        c.add(a("jobs: invalid JSON", JOBS, JSON, null, "{", 400, ""));
        c.add(a("jobs: unknown normalizer", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": {\"normalizer\": \"bogus\"}}", 422, "guidance.normalizer"));
        c.add(a("jobs: missing prompt", JOBS, JSON, null, "{\"n\": 1}", 400, "prompt"));
        // --- /v1/experiments
        c.add(a("experiment: guidance missing", EXP, JSON, null, "{\"prompt\": \"a\"}", 400, "guidance"));
        c.add(a("experiment: guidance empty", EXP, JSON, null, "{\"prompt\": \"a\", \"guidance\": []}", 400, "guidance"));
        c.add(a("experiment: guidance not an array", EXP, JSON, null, "{\"prompt\": \"a\", \"guidance\": 7.5}", 400,
                "guidance"));
        c.add(a("experiment: too many specs", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1,2,3,4,5,6,7,8,9,10,11,12,13]}", 400, "guidance"));
        c.add(a("experiment: null spec", EXP, JSON, null, "{\"prompt\": \"a\", \"guidance\": [1, null]}", 400,
                "guidance[1]"));
        c.add(a("experiment: labels count mismatch", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1, 2], \"labels\": [\"one\"]}", 400, "labels"));
        c.add(a("experiment: blank label", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"labels\": [\" \"]}", 400, "labels[0]"));
        c.add(a("experiment: columns 0", EXP, JSON, null, "{\"prompt\": \"a\", \"guidance\": [1], \"columns\": 0}", 400,
                "columns"));
        c.add(a("experiment: columns overflow int", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"columns\": 99999999999}", 400, "columns"));
        c.add(a("experiment: duplicate key in a spec", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1, {\"g\": 1, \"g\": 2}]}", 400, "guidance[1].g"));
        c.add(a("experiment: spec with 1e400", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1, {\"normalizer\": \"basenorm\", \"g\": 1e400}]}", 400,
                "guidance[1].g"));
        c.add(a("experiment: empty body", EXP, JSON, null, "", 400, ""));
        c.add(a("experiment: n is not a field", EXP, JSON, null, "{\"prompt\": \"a\", \"guidance\": [1], \"n\": 2}", 400,
                "n"));
        c.add(a("experiment: second spec unknown preset", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1, {\"preset\": \"Nope\"}]}", 422, "guidance[1].preset"));
        c.add(a("experiment: wrong content type", EXP, "text/csv", null, "a,b", 415, "Content-Type"));
        // --- webhooks (private addresses refused by default: sd.webhooks.allow-private=false)
        c.add(a("webhook to loopback", JOBS, JSON, null, hook("\"http://127.0.0.1:8080/hook\""), 422, "webhook"));
        c.add(a("webhook to localhost", GEN, JSON, null, hook("\"http://localhost/hook\""), 422, "webhook"));
        c.add(a("webhook to IPv6 loopback", JOBS, JSON, null, hook("\"http://[::1]:9000/hook\""), 422, "webhook"));
        c.add(a("webhook to a private address", JOBS, JSON, null, hook("\"https://10.1.2.3/hook\""), 422, "webhook"));
        c.add(a("webhook to 192.168/16", JOBS, JSON, null, hook("\"https://192.168.0.10/hook\""), 422, "webhook"));
        c.add(a("webhook to cloud metadata (link-local)", JOBS, JSON, null,
                hook("\"http://169.254.169.254/latest/meta-data\""), 422, "webhook"));
        c.add(a("webhook to IPv4-mapped loopback", JOBS, JSON, null, hook("\"http://[::ffff:127.0.0.1]/\""), 422,
                "webhook"));
        c.add(a("webhook with ftp scheme", JOBS, JSON, null, hook("\"ftp://example.com/hook\""), 422, "webhook"));
        c.add(a("webhook relative URL", JOBS, JSON, null, hook("\"/hook\""), 422, "webhook"));
        c.add(a("webhook not a URL", JOBS, JSON, null, hook("\"http://exa mple.com/\""), 422, "webhook"));
        c.add(a("webhook URL too long", JOBS, JSON, null, hook("\"https://example.com/" + "a".repeat(2100) + "\""),
                422, "webhook"));
        c.add(a("webhook not a string", JOBS, JSON, null, hook("42"), 400, "webhook"));
        c.add(a("webhook_events unknown event", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"webhook\": \"https://203.0.113.7/h\", \"webhook_events\": [\"finished\"]}",
                400, "webhook_events[0]"));
        c.add(a("webhook_events empty", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"webhook\": \"https://203.0.113.7/h\", \"webhook_events\": []}", 400,
                "webhook_events"));
        c.add(a("webhook_events not an array", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"webhook\": \"https://203.0.113.7/h\", \"webhook_events\": 7}", 400,
                "webhook_events"));
        c.add(a("webhook_events without webhook", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"webhook_events\": [\"completed\"]}", 400, "webhook_events"));
        // --- previews
        c.add(a("preview_every negative", JOBS, JSON, null, "{\"prompt\": \"a\", \"preview_every\": -1}", 400,
                "preview_every"));
        c.add(a("preview_every above max steps", JOBS, JSON, null, "{\"prompt\": \"a\", \"preview_every\": 151}",
                400, "preview_every"));
        c.add(a("preview_every 2.5", JOBS, JSON, null, "{\"prompt\": \"a\", \"preview_every\": 2.5}", 400,
                "preview_every"));
        c.add(a("preview_every as word", JOBS, JSON, null, "{\"prompt\": \"a\", \"preview_every\": \"often\"}",
                400, "preview_every"));
        c.add(a("preview_every on generations is checked too", GEN, JSON, null,
                "{\"prompt\": \"a\", \"preview_every\": -3}", 400, "preview_every"));
        c.add(a("experiment: preview_every is not a field", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"preview_every\": 2}", 400, "preview_every"));
        c.add(a("experiment: webhook is not a field", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"webhook\": \"https://203.0.113.7/h\"}", 400, "webhook"));
        img2img(c);
        colourProfiles(c);
        hires(c);
        return c.stream();
    }

    /** hires: bad members (400, naming hires.<member>), second passes the engine cannot run (422). */
    static void hires(List<Arguments> c) {
        String ok = TestImages.b64(TestImages.png(64, 64));
        c.add(a("hires not an object", GEN, JSON, null, hires("2"), 400, "hires"));
        c.add(a("hires unknown member", JOBS, JSON, null, hires("{\"scale\": 2, \"denoise\": 0.5}"), 400,
                "hires.denoise"));
        c.add(a("hires scale below 1", GEN, JSON, null, hires("{\"scale\": 0.5}"), 400, "hires.scale"));
        c.add(a("hires scale above 4", JOBS, JSON, null, hires("{\"scale\": 4.5}"), 400, "hires.scale"));
        c.add(a("hires scale as word", GEN, JSON, null, hires("{\"scale\": \"big\"}"), 400, "hires.scale"));
        c.add(a("hires strength above 1", GEN, JSON, null, hires("{\"strength\": 1.5}"), 400, "hires.strength"));
        c.add(a("hires strength negative", JOBS, JSON, null, hires("{\"strength\": -0.1}"), 400, "hires.strength"));
        c.add(a("hires steps negative", GEN, JSON, null, hires("{\"steps\": -1}"), 400, "hires.steps"));
        c.add(a("hires steps above max steps", GEN, JSON, null, hires("{\"steps\": 151}"), 400, "hires.steps"));
        c.add(a("hires steps 2.5", JOBS, JSON, null, hires("{\"steps\": 2.5}"), 400, "hires.steps"));
        c.add(a("hires unknown upscaler", GEN, JSON, null, hires("{\"upscaler\": \"nearest\"}"), 400,
                "hires.upscaler"));
        c.add(a("hires upscaler in A1111's spelling", GEN, JSON, null, hires("{\"upscaler\": \"Latent\"}"), 400,
                "hires.upscaler"));
        c.add(a("hires with init_image", GEN, JSON, null, img("\"" + ok + "\"", ", \"hires\": {\"scale\": 2}"),
                400, "hires"));
        c.add(a("hires second pass above max-pixels", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"steps\": 2, \"size\": \"1024x1024\", \"hires\": {\"scale\": 1.5}}", 422,
                "hires.scale"));
        c.add(a("hires steps x strength leaves no step", GEN, JSON, null, hires("{\"strength\": 0.4}"), 422,
                "hires.strength"));
        c.add(a("hires with a two-call sampler", JOBS, JSON, null,
                "{\"prompt\": \"a\", \"steps\": 2, \"sampler\": \"heun\", \"hires\": {}}", 422, "sampler"));
        c.add(a("experiment: hires is not a field", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"hires\": {}}", 400, "hires"));
    }

    /** A 2-step text-to-image request with the given {@code hires} JSON. */
    static String hires(String hiresJson) {
        return "{\"prompt\": \"a\", \"steps\": 2, \"hires\": " + hiresJson + "}";
    }

    /** init_image and strength: malformed text (400), images the decoder or the engine refuses (422). */
    static void img2img(List<Arguments> c) {
        String ok = TestImages.b64(TestImages.png(64, 64));
        c.add(a("init_image not base64", GEN, JSON, null, img("\"not base64!\"", ""), 400, "init_image"));
        c.add(a("init_image empty", GEN, JSON, null, img("\"\"", ""), 400, "init_image"));
        c.add(a("init_image data URL without base64", GEN, JSON, null, img("\"data:image/png,abc\"", ""), 400,
                "init_image"));
        c.add(a("init_image a number", GEN, JSON, null, img("7", ""), 400, "init_image"));
        c.add(a("strength without init_image", GEN, JSON, null, "{\"prompt\": \"a\", \"strength\": 0.5}", 400,
                "strength"));
        c.add(a("strength above 1", GEN, JSON, null, img("\"" + ok + "\"", ", \"strength\": 1.5"), 400, "strength"));
        c.add(a("strength negative", JOBS, JSON, null, img("\"" + ok + "\"", ", \"strength\": -0.1"), 400,
                "strength"));
        c.add(a("init_image is text, not an image", GEN, JSON, null,
                img("\"" + TestImages.b64("hello, world".getBytes()) + "\"", ""), 422, "init_image"));
        c.add(a("init_image WebP header alone", GEN, JSON, null,
                img("\"" + TestImages.b64("RIFF\0\0\0\0WEBPVP8 ".getBytes()) + "\"", ""), 422, "init_image"));
        c.add(a("init_image truncated WebP", GEN, JSON, null, img("\"data:image/webp;base64," + TestImages.b64(
                TestImages.truncated(TestImages.webp("init64.webp"), 100)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image WebP declares 16384x16384 (decompression bomb)", JOBS, JSON, null,
                img("\"" + TestImages.b64(TestImages.webpHeaderOnly(16384, 16384)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image animated WebP", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.webp("animated.webp")) + "\"", ""), 422, "init_image"));
        c.add(a("init_image lossy WebP whose alpha chunk libwebp refuses (its status: out of memory)", GEN, JSON,
                null, img("\"" + TestImages.b64(TestImages.webp("lossy_bad_alpha.webp")) + "\"", ""), 422,
                "init_image"));
        c.add(a("mask lossy WebP whose alpha chunk libwebp refuses", JOBS, JSON, null, img("\"" + ok + "\"",
                ", \"mask\": \"" + TestImages.b64(TestImages.webp("lossy_bad_alpha.webp")) + "\""), 422, "mask"));
        c.add(a("init_image WebP whose decoder reads past its end", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.webp("corrupt_lossless_slow.webp")) + "\"", ""), 422,
                "init_image"));
        c.add(a("mask animated WebP", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.webp("animated.webp")) + "\""), 422, "mask"));
        c.add(a("init_image GIF (format by content)", GEN, JSON, null,
                img("\"data:image/png;base64," + TestImages.b64(TestImages.encode(64, 64,
                        java.awt.image.BufferedImage.TYPE_BYTE_INDEXED, "gif")) + "\"", ""), 422, "init_image"));
        c.add(a("init_image declares 100000x100000 (decompression bomb)", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.pngHeaderOnly(100000, 100000)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image declares 2048x2048 > max-pixels", JOBS, JSON, null,
                img("\"" + TestImages.b64(TestImages.pngHeaderOnly(2048, 2048)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image PNG without pixel data", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.pngHeaderOnly(64, 64)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image truncated PNG", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.truncated(TestImages.png(64, 64), 60)) + "\"", ""), 422,
                "init_image"));
        c.add(a("init_image truncated JPEG", GEN, JSON, null, img("\"" + TestImages.b64(TestImages.truncated(
                TestImages.encode(64, 64, java.awt.image.BufferedImage.TYPE_INT_RGB, "jpeg"), 40)) + "\"", ""), 422,
                "init_image"));
        c.add(a("init_image sides not multiples of 8", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.png(68, 64)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image smaller than min-size", GEN, JSON, null,
                img("\"" + TestImages.b64(TestImages.png(32, 64)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image size differs from size", GEN, JSON, null,
                img("\"" + ok + "\"", ", \"size\": \"128x128\""), 422, "init_image"));
        c.add(a("steps x strength leaves no step", GEN, JSON, null,
                img("\"" + ok + "\"", ", \"strength\": 0.4"), 422, "strength"));
        c.add(a("init_image with a two-call sampler", JOBS, JSON, null,
                img("\"" + ok + "\"", ", \"sampler\": \"heun\""), 422, "sampler"));
        c.add(a("mask without init_image", GEN, JSON, null, "{\"prompt\": \"a\", \"mask\": \"" + ok + "\"}", 400,
                "mask"));
        c.add(a("mask not base64", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask\": \"%%%\""), 400, "mask"));
        c.add(a("mask is not an image", JOBS, JSON, null,
                img("\"" + ok + "\"", ", \"mask\": \"" + TestImages.b64("not an image".getBytes()) + "\""), 422,
                "mask"));
        c.add(a("mask size differs from init_image", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.png(64, 72)) + "\""), 422, "mask"));
        c.add(a("mask declares 100000x100000", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.pngHeaderOnly(100000, 100000)) + "\""), 422, "mask"));
        String withMask = ", \"mask\": \"" + ok + "\"";
        c.add(a("mask_blur without mask", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask_blur\": 4"), 400,
                "mask_blur"));
        c.add(a("mask_blur above 64", JOBS, JSON, null, img("\"" + ok + "\"", withMask + ", \"mask_blur\": 65"), 400,
                "mask_blur"));
        c.add(a("mask_blur negative", GEN, JSON, null, img("\"" + ok + "\"", withMask + ", \"mask_blur\": -1"), 400,
                "mask_blur"));
        c.add(a("mask_blur 2.5", GEN, JSON, null, img("\"" + ok + "\"", withMask + ", \"mask_blur\": 2.5"), 400,
                "mask_blur"));
        c.add(a("inpaint_full_res without mask", GEN, JSON, null, img("\"" + ok + "\"", ", \"inpaint_full_res\": true"),
                400, "inpaint_full_res"));
        c.add(a("inpaint_full_res not a boolean", JOBS, JSON, null,
                img("\"" + ok + "\"", withMask + ", \"inpaint_full_res\": \"yes\""), 400, "inpaint_full_res"));
        c.add(a("inpaint_full_res_padding without inpaint_full_res", GEN, JSON, null,
                img("\"" + ok + "\"", withMask + ", \"inpaint_full_res_padding\": 8"), 400, "inpaint_full_res_padding"));
        c.add(a("inpaint_full_res_padding above 256", GEN, JSON, null, img("\"" + ok + "\"", withMask
                + ", \"inpaint_full_res\": true, \"inpaint_full_res_padding\": 257"), 400, "inpaint_full_res_padding"));
        c.add(a("inpaint_full_res_padding negative", JOBS, JSON, null, img("\"" + ok + "\"", withMask
                + ", \"inpaint_full_res\": true, \"inpaint_full_res_padding\": -4"), 400, "inpaint_full_res_padding"));
        c.add(a("inpaint_full_res with an all-black mask", GEN, JSON, null, img("\"" + ok + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.encodeImage(new java.awt.image.BufferedImage(64, 64,
                        java.awt.image.BufferedImage.TYPE_BYTE_GRAY), "png"))
                + "\", \"inpaint_full_res\": true"), 422, "mask"));
        c.add(a("masked_content without mask", GEN, JSON, null, img("\"" + ok + "\"", ", \"masked_content\": \"fill\""),
                400, "masked_content"));
        c.add(a("masked_content unknown", JOBS, JSON, null,
                img("\"" + ok + "\"", withMask + ", \"masked_content\": \"latent noise\""), 400, "masked_content"));
        c.add(a("experiment: init_image is not a field", EXP, JSON, null,
                "{\"prompt\": \"a\", \"guidance\": [1], \"init_image\": \"" + ok + "\"}", 400, "init_image"));
    }

    /** Embedded ICC profiles that cannot be used, and CMYK JPEG: 422 on the image's field (see ColorProfiles). */
    static void colourProfiles(List<Arguments> c) {
        String ok = TestImages.b64(TestImages.png(64, 64));
        byte[] p3 = TestImages.icc("profiles/display_p3.icc");
        c.add(a("init_image PNG with a truncated ICC profile", GEN, JSON, null, img("\"" + TestImages.b64(
                TestImages.pngWithIcc(TestImages.png(64, 64), java.util.Arrays.copyOf(p3, 200))) + "\"", ""), 422,
                "init_image"));
        byte[] garbled = p3.clone();
        java.util.Arrays.fill(garbled, 128, 200, (byte) 0xee); // the tag table
        c.add(a("init_image PNG with a garbled ICC profile", JOBS, JSON, null, img("\"" + TestImages.b64(
                TestImages.pngWithIcc(TestImages.png(64, 64), garbled)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image PNG whose iCCP is a zlib bomb", GEN, JSON, null, img("\"" + TestImages.b64(
                TestImages.pngWithIcc(TestImages.png(64, 64), new byte[5 << 20])) + "\"", ""), 422, "init_image"));
        c.add(a("init_image JPEG whose ICC profile misses an APP2 segment", GEN, JSON, null, img("\"" + TestImages.b64(
                TestImages.jpegWithIccSegments(TestImages.encode(64, 64, java.awt.image.BufferedImage.TYPE_INT_RGB,
                        "jpeg"), p3, 3, 2)) + "\"", ""), 422, "init_image"));
        c.add(a("init_image RGB PNG with a grey ICC profile", GEN, JSON, null, img("\"" + TestImages.b64(
                TestImages.pngWithIcc(TestImages.png(64, 64), TestImages.icc("profiles/gray_linear.icc"))) + "\"", ""),
                422, "init_image"));
        c.add(a("mask with a truncated ICC profile", JOBS, JSON, null, img("\"" + ok + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.pngWithIcc(TestImages.png(64, 64), java.util.Arrays.copyOf(p3, 300)))
                + "\""), 422, "mask"));
        c.add(a("init_image CMYK JPEG", GEN, JSON, null, img("\"" + TestImages.b64(TestImages.icc("cmyk.jpg")) + "\"",
                ""), 422, "init_image"));
    }

    static String img(String initImageJson, String more) {
        return "{\"prompt\": \"a\", \"steps\": 2, \"init_image\": " + initImageJson + more + "}";
    }

    static String hook(String urlJson) {
        return "{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1, \"webhook\": " + urlJson + "}";
    }

    static Arguments a(String name, String path, String contentType, String accept, String body, int status,
                       String field) {
        return Arguments.of(name, path, contentType, accept, body, status, field);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void answeredWithAProblemAndNothingEnqueued(String name, String path, String contentType, String accept,
                                                String body, int status, String field) {
        long accepted = jobs.acceptedTotal();
        int held = jobs.retainedJobs();
        int queued = jobs.queueDepth();
        double finished = jobCounters();

        // rest-assured encodes a String by its content type and knows no encoder for wildcards: send those as bytes
        byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        RequestSpecification req = contentType == null ? given().noContentType().body(bytes)
                : contentType.contains("*") ? given().contentType(contentType).body(bytes)
                : given().contentType(contentType).body(body);
        if (accept != null) {
            req = req.accept(accept);
        }
        Response r = req.post(path);
        String text = r.asString();
        assertEquals(status, r.statusCode(), name + " → " + text);
        assertTrue(r.contentType().startsWith("application/problem+json"), name + " content type " + r.contentType());
        JsonPath p = JsonPath.from(text);
        assertTrue(p.getString("type").startsWith("urn:sdcfg:problem:"), text);
        assertFalse(p.getString("title").isBlank(), text);
        assertEquals(status, p.getInt("status"), text);
        assertNotNull(p.getString("detail"), text);
        assertEquals(path, p.getString("instance"), text);
        if (status == 405) {
            assertNotNull(r.header("Allow"), name + ": 405 without Allow");
        }
        List<Map<String, String>> errors = p.getList("errors");
        assertNotNull(errors, text);
        if (field != null) {
            assertTrue(errors.stream().anyMatch(e -> field.equals(e.get("field"))),
                    name + ": expected an error for field '" + field + "' in " + text);
        }
        for (Map<String, String> e : errors) {
            assertNotNull(e.get("field"), text);
            assertFalse(e.get("message") == null || e.get("message").isBlank(), text);
        }

        assertEquals(accepted, jobs.acceptedTotal(), name + ": a job was enqueued");
        assertEquals(held, jobs.retainedJobs(), name + ": a job was stored");
        assertEquals(queued, jobs.queueDepth(), name + ": the queue changed");
        assertEquals(finished, jobCounters(), name + ": the job counters (" + MetricNames.JOBS + ", "
                + MetricNames.IMAGES + ") moved");
    }

    /** Sum of sd.jobs{status=...} (rejected included) and sd.images. */
    private double jobCounters() {
        double sum = 0;
        for (Counter c : registry.find(MetricNames.JOBS).counters()) {
            sum += c.count();
        }
        for (Counter c : registry.find(MetricNames.IMAGES).counters()) {
            sum += c.count();
        }
        return sum;
    }

    @Test
    void corpusIsLargeEnough() {
        assertTrue(corpus().count() >= 100, "at least 100 bad requests");
    }

    @Test
    void aValidRequestDoesEnqueueSoTheCountersAreLive() {
        long accepted = jobs.acceptedTotal();
        given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1}").post(JOBS)
                .then().statusCode(202);
        assertEquals(accepted + 1, jobs.acceptedTotal());
    }
}
