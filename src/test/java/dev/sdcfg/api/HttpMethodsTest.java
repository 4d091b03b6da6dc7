package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Method handling (RFC 9110): 405 carries Allow (and is problem+json), OPTIONS answers each path's own methods, a
 * POST to a read-only path is 405 rather than 415; 406/413 answers say what would be accepted.
 */
@QuarkusTest
class HttpMethodsTest {

    static final List<String> METHODS = List.of("GET", "POST", "PUT", "PATCH", "DELETE");
    static final String JOB = "/v1/jobs/3f1c0b7e-8d54-4c55-9f0e-7a6b2c1d0e9f";

    @Inject
    JobService jobs;

    @TestHTTPResource("/")
    URL root;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    @Test
    void methodNotAllowedCarriesAllowAndAProblem() {
        notAllowed("DELETE", "/v1/images/generations", "POST, OPTIONS");
        notAllowed("GET", "/v1/images/generations", "POST, OPTIONS");
        notAllowed("PUT", JOB, "GET, HEAD, DELETE, OPTIONS");
        notAllowed("POST", JOB, "GET, HEAD, DELETE, OPTIONS");
        notAllowed("POST", "/v1/samplers", "GET, HEAD, OPTIONS");
        notAllowed("PATCH", "/v1/jobs", "POST, OPTIONS");
        notAllowed("DELETE", JOB + "/images/0", "GET, HEAD, OPTIONS");
        notAllowed("GET", "/v1/jobs/", "POST, OPTIONS");
    }

    @Test
    void postToAReadOnlyPathIs405EvenWithoutContentType() {
        Response r = given().noContentType().body(new byte[0]).post("/v1/guidance");
        assertEquals(405, r.statusCode(), r.asString());
        assertEquals("GET, HEAD, OPTIONS", r.header("Allow"));
        assertTrue(r.contentType().startsWith(PROBLEM), r.contentType());
    }

    @Test
    void headOnAPostOnlyPathIs405WithAllow() {
        Response r = given().head("/v1/jobs");
        assertEquals(405, r.statusCode());
        assertEquals("POST, OPTIONS", r.header("Allow"));
    }

    @Test
    void optionsListsThePathsOwnMethods() {
        options("/v1/jobs", "POST, OPTIONS");
        options(JOB, "GET, HEAD, DELETE, OPTIONS");
        options(JOB + "/grid", "GET, HEAD, OPTIONS");
        options("/v1/models", "GET, HEAD, OPTIONS");
        given().options("/v1/nothing-here").then().statusCode(404).contentType(PROBLEM)
                .body("type", equalTo("urn:sdcfg:problem:not-found"));
    }

    /** Every path and method of the OpenAPI document, against OPTIONS and every other method. */
    @Test
    void allowAgreesWithTheOpenApiDocumentForEveryPathAndMethod() {
        JsonPath doc = given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract().jsonPath();
        Map<String, Map<String, Object>> paths = doc.getMap("paths");
        Set<String> documented = paths.keySet().stream().filter(p -> p.startsWith("/v1/")).collect(Collectors.toSet());
        Set<String> routed = Routes.API.all().stream().map(Routes.Route::template).collect(Collectors.toSet());
        assertEquals(new TreeSet<>(documented), new TreeSet<>(routed), "Routes.RESOURCES misses a resource class");
        List<String> checked = new ArrayList<>();
        for (String template : documented) {
            String path = template.replace("{id}", "3f1c").replace("{index}", "0");
            Set<String> expected = new LinkedHashSet<>();
            for (String m : paths.get(template).keySet()) {
                expected.add(m.toUpperCase(Locale.ROOT));
            }
            if (expected.contains("GET")) {
                expected.add("HEAD");
            }
            expected.add("OPTIONS");
            Response o = given().options(path);
            assertEquals(204, o.statusCode(), "OPTIONS " + path);
            assertEquals(expected, headerSet(o.header("Allow")), "OPTIONS " + path);
            for (String m : METHODS) {
                if (expected.contains(m)) {
                    continue;
                }
                Response r = given().contentType(JSON).body("{}").request(m, path);
                assertEquals(405, r.statusCode(), m + " " + path + " → " + r.asString());
                assertEquals(expected, headerSet(r.header("Allow")), m + " " + path);
                assertTrue(r.contentType().startsWith(PROBLEM), m + " " + path + ": " + r.contentType());
                JsonPath p = r.jsonPath();
                assertEquals("urn:sdcfg:problem:method-not-allowed", p.getString("type"));
                assertEquals(405, p.getInt("status"));
                assertTrue(p.getString("detail").startsWith(m + " is not supported"), p.getString("detail"));
                checked.add(m + " " + path);
            }
        }
        assertTrue(checked.size() >= 30, "checked " + checked);
    }

    @Test
    void notAcceptableSaysWhatThePathProduces() {
        given().accept("text/html").get("/v1/guidance").then().statusCode(406).contentType(PROBLEM)
                .body("detail", containsString("produces application/json"))
                .body("errors[0].field", equalTo("Accept"));
        given().accept("application/json").get(JOB + "/images/0").then().statusCode(406).contentType(PROBLEM)
                .body("detail", containsString("produces image/png"));
        given().contentType(JSON).accept("application/xml").body("{\"prompt\": \"a\"}").post("/v1/images/generations")
                .then().statusCode(406).contentType(PROBLEM)
                .body("detail", containsString("produces application/json, image/png"));
    }

    @Test
    void aBodyBeyondTheLimitIsA413Problem() throws Exception {
        // announce a body over quarkus.http.limits.max-body-size (8M) and send none: the answer must not need it
        String head = "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: 9000000\r\n\r\n";
        String answer;
        try (Socket s = new Socket(root.getHost(), root.getPort())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] b = new byte[4096];
            for (int n; (n = in.read(b)) > 0; ) {
                buf.write(b, 0, n);
            }
            answer = buf.toString(StandardCharsets.UTF_8);
        }
        assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
        assertTrue(answer.toLowerCase(Locale.ROOT).contains("content-type: application/problem+json"), answer);
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        JsonPath p = JsonPath.from(body);
        assertEquals("urn:sdcfg:problem:payload-too-large", p.getString("type"));
        assertEquals(413, p.getInt("status"));
        assertEquals("/v1/jobs", p.getString("instance"));
        assertTrue(p.getString("detail").contains("8388608"), body);
    }

    private static void notAllowed(String method, String path, String allow) {
        Response r = given().contentType(JSON).body("{}").request(method, path);
        assertEquals(405, r.statusCode(), method + " " + path + " → " + r.asString());
        assertEquals(allow, r.header("Allow"), method + " " + path);
        assertTrue(r.contentType().startsWith(PROBLEM), method + " " + path + ": " + r.contentType());
        JsonPath p = r.jsonPath();
        assertEquals("urn:sdcfg:problem:method-not-allowed", p.getString("type"));
        assertEquals(405, p.getInt("status"));
        assertEquals(path, p.getString("instance"));
        assertEquals(method + " is not supported on " + path + "; allowed: " + allow, p.getString("detail"));
        assertFalse(p.getString("title").isBlank());
    }

    private static void options(String path, String allow) {
        Response r = given().options(path);
        assertEquals(204, r.statusCode(), "OPTIONS " + path);
        assertEquals(allow, r.header("Allow"), "OPTIONS " + path);
    }

    private static Set<String> headerSet(String header) {
        assertTrue(header != null && !header.isBlank(), "no Allow header");
        return new LinkedHashSet<>(Arrays.stream(header.split(",")).map(String::trim).toList());
    }
}
