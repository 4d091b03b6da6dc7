package dev.sdcfg.api;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.util.List;

/**
 * POST bodies must say they are JSON: a missing or wildcard Content-Type (e.g. {@code *}{@code /*}) is answered
 * 415 like a wrong one; JAX-RS would otherwise match it to {@code application/json} and parse the body anyway.
 */
public class ContentTypeFilter {

    @ServerRequestFilter(preMatching = true)
    public void requireContentType(ContainerRequestContext ctx) {
        if (!"POST".equals(ctx.getMethod()) || !ctx.getUriInfo().getPath().startsWith("/v1/")) {
            return;
        }
        String ct = ctx.getHeaderString(HttpHeaders.CONTENT_TYPE);
        String type = ct == null ? "" : ct.split(";", 2)[0].trim();
        if (type.isEmpty() || type.startsWith("*") || type.endsWith("/*")) {
            throw new ProblemException(415, "unsupported-media-type", "Unsupported media type",
                    "send the request body as application/json (Content-Type is "
                            + (type.isEmpty() ? "missing" : "'" + type + "'") + ")",
                    List.of(new FieldError("Content-Type", "must be application/json")));
        }
    }
}
