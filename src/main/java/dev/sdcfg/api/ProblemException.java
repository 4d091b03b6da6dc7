package dev.sdcfg.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Thrown by resources to answer with a {@link Problem}; {@link ProblemMappers} renders it. */
public class ProblemException extends RuntimeException {

    public static final String TYPE_PREFIX = "urn:sdcfg:problem:";

    private final int status;
    private final String kind;
    private final String title;
    private final List<FieldError> errors;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private String jobId;
    private String state;

    public ProblemException(int status, String kind, String title, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.kind = kind;
        this.title = title;
        this.errors = errors == null ? List.of() : List.copyOf(errors);
    }

    public static ProblemException invalid(List<FieldError> errors) {
        StringBuilder detail = new StringBuilder();
        detail.append(errors.size()).append(errors.size() == 1 ? " field is invalid: " : " fields are invalid: ");
        for (int i = 0; i < errors.size(); i++) {
            FieldError e = errors.get(i);
            detail.append(i == 0 ? "" : "; ").append(e.field().isEmpty() ? "body" : e.field()).append(": ")
                    .append(e.message());
        }
        return new ProblemException(400, "invalid-request", "Invalid request", detail.toString(), errors);
    }

    public static ProblemException invalid(String field, String message) {
        return invalid(List.of(new FieldError(field, message)));
    }

    public static ProblemException unprocessable(String field, String message) {
        return new ProblemException(422, "unprocessable-request", "The engine cannot run this request",
                (field == null || field.isEmpty() ? "" : field + ": ") + message,
                List.of(new FieldError(field == null ? "" : field, message)));
    }

    public static ProblemException notFound(String detail) {
        return new ProblemException(404, "not-found", "Not found", detail, List.of());
    }

    public ProblemException header(String name, String value) {
        headers.put(name, value);
        return this;
    }

    public ProblemException job(String id) {
        this.jobId = id;
        return this;
    }

    public ProblemException state(String s) {
        this.state = s;
        return this;
    }

    public int status() {
        return status;
    }

    public String kind() {
        return kind;
    }

    public String title() {
        return title;
    }

    public List<FieldError> errors() {
        return errors;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public String jobId() {
        return jobId;
    }

    public String state() {
        return state;
    }
}
