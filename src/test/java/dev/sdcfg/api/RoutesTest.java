package dev.sdcfg.api;

import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The route table behind Allow headers, read from JAX-RS annotations (no server). */
class RoutesTest {

    @Path("/t/things")
    @Produces("application/json")
    static class Things {
        @POST
        public void create() {
        }

        @GET
        @Path("/{id}")
        public void get() {
        }

        @DELETE
        @Path("/{id}")
        public void delete() {
        }

        @GET
        @Path("/stats")
        @Produces("text/plain")
        public void stats() {
        }

        @GET
        @Path("/{id}/parts/{n: [0-9]+}")
        @Produces("image/png")
        public void part() {
        }

        public void notAResourceMethod() {
        }
    }

    final Routes routes = new Routes(List.of(Things.class));

    @Test
    void methodsPerPathWithHeadForGetAndOptionsAlways() {
        assertEquals("POST, OPTIONS", routes.match("/t/things").orElseThrow().allowHeader());
        assertEquals("GET, HEAD, DELETE, OPTIONS", routes.match("/t/things/abc").orElseThrow().allowHeader());
        assertEquals("GET, HEAD, OPTIONS", routes.match("/t/things/abc/parts/3").orElseThrow().allowHeader());
    }

    @Test
    void literalTemplateWinsOverAParameter() {
        Routes.Route stats = routes.match("/t/things/stats").orElseThrow();
        assertEquals("/t/things/stats", stats.template());
        assertEquals(List.of("text/plain"), stats.producesFor("GET"));
        assertEquals(List.of("text/plain"), stats.producesFor("HEAD"));
        assertEquals("GET, HEAD, OPTIONS", stats.allowHeader());
    }

    @Test
    void trailingAndDoubleSlashesAreNormalizedAndRegexParametersHonoured() {
        assertEquals("/t/things", routes.match("/t/things/").orElseThrow().template());
        assertEquals("/t/things/{id}", routes.match("/t//things/x").orElseThrow().template());
        assertTrue(routes.match("/t/things/x/parts/abc").isEmpty(), "{n: [0-9]+} must not match letters");
        assertTrue(routes.match("/t/nothing").isEmpty());
        assertTrue(routes.match("/t/things/a/b").isEmpty());
    }

    @Test
    void producesComesFromTheMethodElseTheClass() {
        Routes.Route one = routes.match("/t/things/abc").orElseThrow();
        assertEquals(List.of("application/json"), one.producesFor("GET"));
        assertEquals(List.of(), one.producesFor("PUT"));
        assertEquals(List.of("image/png"), routes.match("/t/things/a/parts/0").orElseThrow().producesFor("GET"));
        assertTrue(one.allows("delete"));
        assertFalse(one.allows("POST"));
    }

    @Test
    void theApiTable() {
        assertEquals("POST, OPTIONS", Routes.API.match("/v1/images/generations").orElseThrow().allowHeader());
        assertEquals("POST, OPTIONS", Routes.API.match("/v1/jobs").orElseThrow().allowHeader());
        assertEquals("GET, HEAD, DELETE, OPTIONS", Routes.API.match("/v1/jobs/3f1c").orElseThrow().allowHeader());
        assertEquals("GET, HEAD, OPTIONS", Routes.API.match("/v1/jobs/3f1c/images/0").orElseThrow().allowHeader());
        assertEquals("GET, HEAD, OPTIONS", Routes.API.match("/v1/samplers").orElseThrow().allowHeader());
        assertEquals(List.of("application/json", "image/png"),
                Routes.API.match("/v1/images/generations").orElseThrow().producesFor("POST"));
    }
}
