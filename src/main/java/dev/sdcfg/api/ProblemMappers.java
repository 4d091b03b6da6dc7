package dev.sdcfg.api;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidNullException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.PropertyBindingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.sdcfg.jobs.IdempotencyConflictException;
import dev.sdcfg.jobs.QueueFullException;
import dev.sdcfg.jobs.QueueUnavailableException;
import dev.sdcfg.jobs.ServiceNotReadyException;
import dev.sdcfg.pipeline.InvalidRequestException;
import jakarta.inject.Inject;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Request;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders every error as RFC 9457 problem+json: our own {@link ProblemException}s, the engine's
 * {@link InvalidRequestException} (422), queue-full (429) and not-ready (503) conditions, JSON that cannot be read
 * or bound (400 naming the field), JAX-RS routing failures (404/405/406/415) and anything unexpected (500).
 */
public class ProblemMappers {

    public static final String PROBLEM_JSON = "application/problem+json";
    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @Inject
    ObjectMapper json;

    @Inject
    RequestValidator validator;

    @ServerExceptionMapper
    public Response problem(ProblemException e, UriInfo uri) {
        return render(e, uri);
    }

    @ServerExceptionMapper
    public Response engineRejected(InvalidRequestException e, UriInfo uri) {
        return render(ProblemException.unprocessable(e.field(), e.getMessage()), uri);
    }

    @ServerExceptionMapper
    public Response queueFull(QueueFullException e, UriInfo uri) {
        return render(new ProblemException(429, "queue-full", "Too many jobs waiting", e.getMessage(), List.of())
                .header(HttpHeaders.RETRY_AFTER, Long.toString(e.retryAfterSeconds())), uri);
    }

    @ServerExceptionMapper
    public Response storeDown(QueueUnavailableException e, UriInfo uri) {
        return render(new ProblemException(503, "queue-unavailable", "Job store unavailable", e.getMessage(), List.of())
                .header(HttpHeaders.RETRY_AFTER, Long.toString(e.retryAfterSeconds())), uri);
    }

    @ServerExceptionMapper
    public Response idempotencyConflict(IdempotencyConflictException e, UriInfo uri) {
        return render(new ProblemException(422, "idempotency-key-reused", "Idempotency-Key reused", e.getMessage(),
                List.of(new FieldError("Idempotency-Key", "already used with another request body"))), uri);
    }

    @ServerExceptionMapper
    public Response notReady(ServiceNotReadyException e, UriInfo uri) {
        ProblemException p = new ProblemException(503, "service-unavailable", "Service unavailable", e.getMessage(),
                List.of()).state(e.state().name().toLowerCase(Locale.ROOT));
        if (e.retryAfterSeconds() > 0) {
            p.header(HttpHeaders.RETRY_AFTER, Long.toString(e.retryAfterSeconds()));
        }
        return render(p, uri);
    }

    @ServerExceptionMapper
    public Response unreadableJson(JsonProcessingException e, UriInfo uri) {
        return render(fromJackson(e), uri);
    }

    @ServerExceptionMapper
    public Response mismatchedJson(MismatchedInputException e, UriInfo uri) {
        return render(fromJackson(e), uri);
    }

    @ServerExceptionMapper
    public Response constraintViolation(ConstraintViolationException e, UriInfo uri) {
        List<FieldError> errors = new ArrayList<>();
        for (ConstraintViolation<?> v : e.getConstraintViolations()) {
            errors.add(new FieldError(String.valueOf(v.getPropertyPath()), v.getMessage()));
        }
        return render(ProblemException.invalid(errors), uri);
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e, UriInfo uri, Request request, HttpHeaders headers) {
        Throwable cause = e.getCause();
        if (cause instanceof JsonProcessingException jpe) {
            return render(fromJackson(jpe), uri);
        }
        Response original = e.getResponse();
        int status = original == null ? 500 : original.getStatus();
        ProblemException p;
        switch (status) {
            case 400:
                p = new ProblemException(400, "invalid-request", "Bad request", message(e, "the request is malformed"), List.of());
                break;
            case 404:
                p = ProblemException.notFound("no resource at " + path(uri));
                break;
            case 405: {
                Optional<Routes.Route> route = uri == null ? Optional.empty() : Routes.API.match(uri.getPath());
                String allow = route.map(Routes.Route::allowHeader).orElse(allowed(original));
                p = new ProblemException(405, "method-not-allowed", "Method not allowed",
                        (request == null ? "the method" : request.getMethod()) + " is not supported on "
                                + path(uri) + "; allowed: " + allow, List.of());
                if (route.isPresent()) {
                    p.header(HttpHeaders.ALLOW, allow);
                }
                break;
            }
            case 406: {
                String accept = headers == null ? null : headers.getHeaderString(HttpHeaders.ACCEPT);
                List<String> produces = uri == null || request == null ? List.of()
                        : Routes.API.match(uri.getPath()).map(r -> r.producesFor(request.getMethod())).orElse(List.of());
                p = new ProblemException(406, "not-acceptable", "Not acceptable",
                        "no representation matches Accept: " + (accept == null ? "(none)" : accept)
                                + (produces.isEmpty() ? " (the API answers JSON, or image/png where documented)"
                                : "; " + request.getMethod() + " " + path(uri) + " produces " + String.join(", ", produces)),
                        List.of(new FieldError("Accept", produces.isEmpty() ? "not acceptable"
                                : "must accept " + String.join(" or ", produces))));
                break;
            }
            case 413:
                p = new ProblemException(413, "payload-too-large", "Payload too large", message(e, "the body is too large"), List.of());
                break;
            case 415:
                p = ContentTypeFilter.unsupported(headers == null ? null : headers.getHeaderString(HttpHeaders.CONTENT_TYPE));
                break;
            default:
                if (status >= 500) {
                    LOG.error("Request failed", e);
                }
                p = new ProblemException(status, status >= 500 ? "internal-error" : "http-" + status,
                        original == null || original.getStatusInfo() == null ? "Error" : original.getStatusInfo().getReasonPhrase(),
                        message(e, "HTTP " + status), List.of());
        }
        if (original != null) {
            for (String h : List.of(HttpHeaders.ALLOW, HttpHeaders.RETRY_AFTER)) {
                String v = original.getHeaderString(h);
                if (v != null && !p.headers().containsKey(h)) {
                    p.header(h, v);
                }
            }
        }
        return render(p, uri);
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e, UriInfo uri) {
        LOG.error("Unexpected error while serving a request", e);
        return render(new ProblemException(500, "internal-error", "Internal server error",
                "unexpected " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                List.of()), uri);
    }

    // ------------------------------------------------------------------------------------------------

    Response render(ProblemException p, UriInfo uri) {
        String instance = uri == null ? null : "/" + uri.getPath().replaceFirst("^/", "");
        Problem body = new Problem(ProblemException.TYPE_PREFIX + p.kind(), p.title(), p.status(), p.getMessage(),
                instance, p.errors(), p.jobId(), p.state());
        String text;
        try {
            text = json.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            text = "{\"type\":\"" + ProblemException.TYPE_PREFIX + "internal-error\",\"status\":" + p.status() + "}";
        }
        Response.ResponseBuilder rb = Response.status(p.status()).type(PROBLEM_JSON).entity(text);
        for (Map.Entry<String, String> h : p.headers().entrySet()) {
            rb.header(h.getKey(), h.getValue());
        }
        return rb.build();
    }

    /** Jackson's failure as a 400 naming the field, with the field's integer range where one applies. */
    ProblemException fromJackson(JsonProcessingException e) {
        return fromJackson(e, validator == null ? f -> Optional.empty() : validator::integerRule);
    }

    static ProblemException fromJackson(JsonProcessingException e, Function<String, Optional<String>> integerRule) {
        if (e instanceof JsonEOFException) {
            return new ProblemException(400, "invalid-json", "Invalid JSON",
                    "the JSON body ends early (empty or truncated)", List.of(new FieldError("", "truncated JSON")));
        }
        String original = firstLine(e.getOriginalMessage());
        String field = e instanceof JsonMappingException jme ? path(jme) : null;
        Matcher dup = original == null ? null : DUPLICATE.matcher(original);
        if (dup != null && dup.find()) {
            String at = parserPath(e);
            if (at == null || at.isEmpty()) {
                at = field == null || field.isEmpty() ? dup.group(1) : field + "." + dup.group(1);
            }
            return ProblemException.invalid(at, "duplicate key: a key may appear only once in a JSON object");
        }
        String raw = e.getOriginalMessage();
        Matcher range = raw == null ? null : OUT_OF_RANGE.matcher(raw);
        if (range != null && range.find()) {
            if (field == null || field.isEmpty()) {
                field = parserPath(e);
            }
            field = field == null ? "" : field;
            return ProblemException.invalid(field, "must be " + integerRule.apply(field).orElse("a smaller integer")
                    + ", got " + abbreviate(range.group(1)));
        }
        if (e instanceof JsonParseException || e instanceof InputCoercionException && !(e instanceof JsonMappingException)) {
            String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")";
            return new ProblemException(400, "invalid-json", "Invalid JSON", "the body is not valid JSON" + where + ": "
                    + original, List.of(new FieldError("", "invalid JSON" + where + ": " + original)));
        }
        if (e instanceof JsonMappingException jme) {
            if (e instanceof UnrecognizedPropertyException upe) {
                return ProblemException.invalid(field, "unknown field; accepted fields: " + names(upe.getKnownPropertyIds()));
            }
            if (e instanceof PropertyBindingException) {
                return ProblemException.invalid(field, "field not accepted here");
            }
            if (e instanceof InvalidNullException) {
                return ProblemException.invalid(field, "must not be null");
            }
            if (original != null && original.contains("Trailing token")) {
                return new ProblemException(400, "invalid-json", "Invalid JSON", "unexpected content after the JSON value",
                        List.of(new FieldError("", "trailing content after the JSON value")));
            }
            if (e instanceof MismatchedInputException mie && mie.getTargetType() != null) {
                Optional<String> rule = isInteger(mie.getTargetType()) ? integerRule.apply(field) : Optional.empty();
                return ProblemException.invalid(field, rule.map(r -> "must be " + r)
                        .orElse("expected " + describe(mie.getTargetType())));
            }
            return ProblemException.invalid(field, original == null ? "cannot be read" : original);
        }
        return new ProblemException(400, "invalid-json", "Invalid JSON", original,
                List.of(new FieldError("", "invalid JSON")));
    }

    private static final Pattern DUPLICATE = Pattern.compile("Duplicate field '(.*?)'");
    private static final Pattern OUT_OF_RANGE = Pattern.compile("Numeric value \\((.*?)\\) out of range");

    private static boolean isInteger(Class<?> t) {
        return t == Integer.class || t == int.class || t == Long.class || t == long.class || t == Short.class;
    }

    private static String abbreviate(String number) {
        return number.length() <= 40 ? number : number.substring(0, 20) + "… (" + number.length() + " characters)";
    }

    /** Where the parser stood, as a field path (a.b[2].c), from the first parser found in the cause chain. */
    static String parserPath(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof JsonProcessingException jpe && jpe.getProcessor() instanceof JsonParser p) {
                StringBuilder sb = new StringBuilder();
                for (JsonStreamContext c = p.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
                    if (c.inObject() && c.getCurrentName() != null) {
                        sb.insert(0, "." + c.getCurrentName());
                    } else if (c.inArray()) {
                        sb.insert(0, "[" + Math.max(0, c.getCurrentIndex()) + "]");
                    }
                }
                return sb.length() > 0 && sb.charAt(0) == '.' ? sb.substring(1) : sb.toString();
            }
        }
        return null;
    }

    static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    static String describe(Class<?> t) {
        if (t == String.class) {
            return "a string";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class || t == Short.class) {
            return "an integer";
        }
        if (t == Double.class || t == double.class || t == Float.class || t == float.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "an array";
        }
        if (JsonNode.class.isAssignableFrom(t)) {
            return "a JSON value";
        }
        return "a JSON object";
    }

    private static String names(Collection<Object> ids) {
        TreeSet<String> s = new TreeSet<>();
        if (ids != null) {
            for (Object o : ids) {
                s.add(String.valueOf(o));
            }
        }
        return String.join(", ", s);
    }

    private static String path(UriInfo uri) {
        return uri == null ? "this path" : "/" + uri.getPath().replaceFirst("^/", "");
    }

    private static String allowed(Response r) {
        String a = r == null ? null : r.getHeaderString(HttpHeaders.ALLOW);
        return a == null ? "see the API documentation" : a;
    }

    private static String message(Throwable e, String fallback) {
        String m = e.getMessage();
        return m == null || m.isBlank() || m.startsWith("HTTP ") ? fallback : m;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return null;
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 300 ? line.substring(0, 300) + "…" : line;
    }

}
