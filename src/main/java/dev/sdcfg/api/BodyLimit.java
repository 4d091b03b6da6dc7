package dev.sdcfg.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.List;
import java.util.Optional;

/**
 * A body announced (Content-Length) beyond {@code quarkus.http.limits.max-body-size} is answered 413 as a problem
 * document, like every other error; Quarkus' own check, which runs right after this one, answers 413 with no body.
 * Only the API's paths ({@code /v1/...}); the connection is closed as Quarkus does (the body is not read).
 */
@ApplicationScoped
public class BodyLimit {

    @Inject
    ObjectMapper json;

    @ConfigProperty(name = "quarkus.http.limits.max-body-size")
    Optional<MemorySize> maxBodySize;

    void install(@Observes Router router) {
        if (maxBodySize.isEmpty()) {
            return;
        }
        long max = maxBodySize.get().asLongValue();
        router.route().order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1).handler(ctx -> check(ctx, max));
    }

    private void check(RoutingContext ctx, long max) {
        String length = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        String path = ctx.request().path();
        if (length == null || path == null || !path.startsWith("/v1/")) {
            ctx.next();
            return;
        }
        long n;
        try {
            n = Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            ctx.next();
            return;
        }
        if (n <= max) {
            ctx.next();
            return;
        }
        String message = "at most " + max + " bytes (quarkus.http.limits.max-body-size), got " + n;
        Problem p = new Problem(ProblemException.TYPE_PREFIX + "payload-too-large", "Payload too large", 413,
                "the request body is too large: " + message, path, List.of(new FieldError("", message)), null, null);
        String text;
        try {
            text = json.writeValueAsString(p);
        } catch (JsonProcessingException e) {
            text = "{\"type\":\"" + ProblemException.TYPE_PREFIX + "payload-too-large\",\"status\":413}";
        }
        ctx.response().setStatusCode(413)
                .putHeader(HttpHeaders.CONTENT_TYPE, ProblemMappers.PROBLEM_JSON)
                .putHeader(HttpHeaders.CONNECTION, "close")
                .endHandler(v -> ctx.request().connection().close())
                .end(text);
    }
}
