package dev.sdcfg.api;

import dev.sdcfg.jobs.ServiceConfig;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Optional API keys ({@code sd.auth.api-keys}, env {@code SD_API_KEYS}, comma-separated; unset: the API is open).
 * When set, every {@code /v1/...} request needs {@code Authorization: Bearer <key>}, else 401 problem+json with
 * {@code WWW-Authenticate: Bearer}. Health, metrics and the OpenAPI document stay open (they are not under /v1).
 *
 * <p>Keys are compared as SHA-256 digests with {@link MessageDigest#isEqual} (constant time, and the same length
 * whatever was sent), against every configured key without stopping early; no key, sent or configured, is ever
 * logged or echoed.
 */
public class ApiKeyFilter {

    @Inject
    ServiceConfig config;

    private volatile List<byte[]> digests;

    @ServerRequestFilter(preMatching = true, priority = 100)
    public Optional<Response> authenticate(ContainerRequestContext ctx) {
        List<byte[]> keys = keys();
        if (keys.isEmpty() || !ctx.getUriInfo().getPath().startsWith("/v1/")) {
            return Optional.empty();
        }
        String auth = ctx.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7) || auth.length() == 7) {
            throw unauthorized("send an API key as 'Authorization: Bearer <key>'");
        }
        byte[] sent = sha256(auth.substring(7).trim());
        boolean ok = false;
        for (byte[] k : keys) {
            ok |= MessageDigest.isEqual(k, sent);
        }
        if (!ok) {
            throw unauthorized("the API key is not valid");
        }
        return Optional.empty();
    }

    private List<byte[]> keys() {
        List<byte[]> d = digests;
        if (d == null) {
            d = new ArrayList<>();
            for (String k : config.auth().apiKeys().orElse(List.of())) {
                if (!k.isBlank()) {
                    d.add(sha256(k.trim()));
                }
            }
            digests = d;
        }
        return d;
    }

    private static ProblemException unauthorized(String detail) {
        return new ProblemException(401, "unauthorized", "Unauthorized", detail,
                List.of(new FieldError("Authorization", "must be 'Bearer <key>' with a configured key")))
                .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
