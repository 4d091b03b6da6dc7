package dev.sdcfg.api;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Request checks before routing, for the API's paths ({@code /v1/...}):
 * <ul>
 * <li>POST bodies must say they are JSON: a missing, wildcard (e.g. {@code *}{@code /*}) or other Content-Type is
 * answered 415 naming what was sent; JAX-RS would otherwise match a wildcard to {@code application/json} and parse
 * the body anyway. A POST to a path that takes no POST is left to routing (405 with {@code Allow}).</li>
 * <li>OPTIONS is answered 204 with the path's own {@code Allow} header (404 for an unknown path); Quarkus REST
 * would list every method of the resource class, whatever the path.</li>
 * </ul>
 */
public class ContentTypeFilter {

    @ServerRequestFilter(preMatching = true)
    public Optional<Response> checkRequest(ContainerRequestContext ctx) {
        String path = ctx.getUriInfo().getPath();
        if (!path.startsWith("/v1/")) {
            return Optional.empty();
        }
        String method = ctx.getMethod();
        if ("OPTIONS".equals(method)) {
            Routes.Route route = Routes.API.match(path).orElseThrow(() -> ProblemException.notFound(
                    "no resource at " + Routes.normalize(path)));
            return Optional.of(Response.noContent().header(HttpHeaders.ALLOW, route.allowHeader()).build());
        }
        if ("POST".equals(method) && Routes.API.match(path).map(r -> r.allows("POST")).orElse(false)) {
            String ct = ctx.getHeaderString(HttpHeaders.CONTENT_TYPE);
            String type = ct == null ? "" : ct.split(";", 2)[0].trim();
            if (EditsResource.PATH.equals(Routes.normalize(path))) { // OpenAI's edits take a form with files
                if (!type.toLowerCase(Locale.ROOT).equals(MediaType.MULTIPART_FORM_DATA)) {
                    throw unsupported(type, MediaType.MULTIPART_FORM_DATA);
                }
            } else if (PngInfoResource.PATH.equals(Routes.normalize(path))) { // the PNG itself, or base64 in JSON
                String t = type.toLowerCase(Locale.ROOT);
                if (!t.equals(ImagesResource.PNG) && !t.equals("application/json")) {
                    throw unsupported(type, ImagesResource.PNG + " or application/json");
                }
            } else if (!type.toLowerCase(Locale.ROOT).equals("application/json")) {
                throw unsupported(type);
            }
        }
        return Optional.empty();
    }

    static ProblemException unsupported(String type) {
        return unsupported(type, "application/json");
    }

    static ProblemException unsupported(String type, String expected) {
        return new ProblemException(415, "unsupported-media-type", "Unsupported media type",
                "send the request body as " + expected + " (Content-Type is "
                        + (type == null || type.isEmpty() ? "missing" : "'" + type + "'") + ")",
                List.of(new FieldError("Content-Type", "must be " + expected)));
    }
}
