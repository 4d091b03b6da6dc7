package dev.sdcfg.api;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidNullException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.PropertyBindingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.sdcfg.jobs.QueueFullException;
import dev.sdcfg.jobs.ServiceNotReadyException;
import dev.sdcfg.pipeline.InvalidRequestException;
import jakarta.inject.Inject;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

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
    public Response webApplication(WebApplicationException e, UriInfo uri) {
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
                p = ProblemException.notFound("no resource at " + (uri == null ? "this path" : "/" + uri.getPath().replaceFirst("^/", "")));
                break;
            case 405:
                p = new ProblemException(405, "method-not-allowed", "Method not allowed",
                        "this resource does not support the method; allowed: " + allowed(original), List.of());
                break;
            case 406:
                p = new ProblemException(406, "not-acceptable", "Not acceptable",
                        "no representation matches the Accept header (JSON, or image/png where documented)", List.of());
                break;
            case 413:
                p = new ProblemException(413, "payload-too-large", "Payload too large", message(e, "the body is too large"), List.of());
                break;
            case 415:
                p = new ProblemException(415, "unsupported-media-type", "Unsupported media type",
                        "send the request body as application/json", List.of(new FieldError("Content-Type",
                        "must be application/json")));
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
                if (v != null) {
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

    static ProblemException fromJackson(JsonProcessingException e) {
        if (e instanceof JsonEOFException) {
            return new ProblemException(400, "invalid-json", "Invalid JSON",
                    "the JSON body ends early (empty or truncated)", List.of(new FieldError("", "truncated JSON")));
        }
        if (e instanceof JsonParseException || e instanceof InputCoercionException && !(e instanceof JsonMappingException)) {
            String field = currentName(e);
            String msg = firstLine(e.getOriginalMessage());
            if (e instanceof InputCoercionException) {
                return ProblemException.invalid(field == null ? "" : field, "number out of range: " + msg);
            }
            String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")";
            return new ProblemException(400, "invalid-json", "Invalid JSON", "the body is not valid JSON" + where + ": " + msg,
                    List.of(new FieldError("", "invalid JSON" + where + ": " + msg)));
        }
        if (e instanceof JsonMappingException jme) {
            String field = path(jme);
            if (e instanceof UnrecognizedPropertyException upe) {
                return ProblemException.invalid(field, "unknown field; accepted fields: " + names(upe.getKnownPropertyIds()));
            }
            if (e instanceof PropertyBindingException) {
                return ProblemException.invalid(field, "field not accepted here");
            }
            if (e instanceof InvalidNullException) {
                return ProblemException.invalid(field, "must not be null");
            }
            String msg = firstLine(jme.getOriginalMessage());
            if (msg != null && msg.contains("Duplicate field")) {
                return ProblemException.invalid(field, "duplicate field");
            }
            if (msg != null && msg.contains("Trailing token")) {
                return new ProblemException(400, "invalid-json", "Invalid JSON", "unexpected content after the JSON value",
                        List.of(new FieldError("", "trailing content after the JSON value")));
            }
            if (e instanceof MismatchedInputException mie && mie.getTargetType() != null) {
                return ProblemException.invalid(field, "expected " + describe(mie.getTargetType()));
            }
            return ProblemException.invalid(field, msg == null ? "cannot be read" : msg);
        }
        return new ProblemException(400, "invalid-json", "Invalid JSON", firstLine(e.getOriginalMessage()),
                List.of(new FieldError("", "invalid JSON")));
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

    private static String currentName(JsonProcessingException e) {
        Object proc = e.getProcessor();
        if (proc instanceof JsonParser p) {
            try {
                return p.currentName();
            } catch (Exception ignored) {
                return null;
            }
        }
        return null;
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
