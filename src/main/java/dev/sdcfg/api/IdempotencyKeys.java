package dev.sdcfg.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.JobQueue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The {@code Idempotency-Key} header of the submitting POSTs (/v1/jobs, /v1/experiments, /v1/images/generations):
 * a retry with the same key and the same body gets the job the first request made (for 24 h); the same key with
 * another body, or on another path, is 422. The digest is of the body as the client sent it (before defaults and
 * the random seed are filled in), so a retried request without a seed still matches.
 */
final class IdempotencyKeys {

    static final String HEADER = "Idempotency-Key";
    /** As Stripe: up to 255 characters. Visible ASCII only, so a key is safe in a Redis key and in logs. */
    static final int MAX_LENGTH = 255;

    private IdempotencyKeys() {
    }

    /** Null when the header is absent; 400 when it is empty, too long or has characters outside visible ASCII. */
    static JobQueue.Idempotency of(String key, String path, Object body, ObjectMapper json) {
        if (key == null) {
            return null;
        }
        if (key.isEmpty() || key.length() > MAX_LENGTH || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new ProblemException(400, "invalid-request", "Invalid request",
                    "Idempotency-Key must be 1.." + MAX_LENGTH + " visible ASCII characters (no spaces), got "
                            + key.length() + " characters",
                    List.of(new FieldError(HEADER, "must be 1.." + MAX_LENGTH + " visible ASCII characters")));
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(path.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(json.writeValueAsBytes(body));
            return new JobQueue.Idempotency(key, HexFormat.of().formatHex(sha.digest()));
        } catch (NoSuchAlgorithmException | JsonProcessingException e) {
            throw new IllegalStateException("cannot digest the request", e);
        }
    }
}
