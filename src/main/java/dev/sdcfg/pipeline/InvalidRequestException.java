package dev.sdcfg.pipeline;

/** A request the engine cannot run; {@link #field()} names the offending field (JSON path, e.g. "guidance.g.max"). */
public class InvalidRequestException extends RuntimeException {
    private final String field;

    public InvalidRequestException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
