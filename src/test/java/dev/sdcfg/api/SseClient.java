package dev.sdcfg.api;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A small Server-Sent Events reader over java.net.http: connects, parses the stream on a thread of its own into
 * events and comments, and hands them out in order. {@link #next} returns {@link #END} once the server closed it.
 */
public final class SseClient implements AutoCloseable {

    public record Event(String id, String name, String data, String comment) {
        public boolean isComment() {
            return comment != null;
        }
    }

    public static final Event END = new Event(null, null, null, null);

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    public final HttpResponse<Stream<String>> response;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Thread reader;

    private SseClient(HttpResponse<Stream<String>> response) {
        this.response = response;
        this.reader = new Thread(this::read, "sse-test-reader");
        reader.setDaemon(true);
        if (response.statusCode() == 200) {
            reader.start();
        }
    }

    public static SseClient open(URI uri, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("Accept", "text/event-stream").GET();
        headers.forEach(b::header);
        return new SseClient(HTTP.send(b.build(), HttpResponse.BodyHandlers.ofLines()));
    }

    /** POST {@code body} (JSON) asking for an event stream in answer. */
    public static SseClient post(URI uri, String body, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("Accept", "text/event-stream")
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(b::header);
        return new SseClient(HTTP.send(b.build(), HttpResponse.BodyHandlers.ofLines()));
    }

    private void read() {
        String id = null;
        String name = null;
        StringBuilder data = null;
        try (Stream<String> lines = response.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.isEmpty()) {
                    if (data != null || name != null) {
                        events.add(new Event(id, name == null ? "message" : name, data == null ? "" : data.toString(),
                                null));
                    }
                    id = null;
                    name = null;
                    data = null;
                } else if (line.startsWith(":")) {
                    events.add(new Event(null, null, null, line.substring(1).trim()));
                } else {
                    int colon = line.indexOf(':');
                    String field = colon < 0 ? line : line.substring(0, colon);
                    String value = colon < 0 ? "" : line.substring(colon + 1);
                    if (value.startsWith(" ")) {
                        value = value.substring(1);
                    }
                    switch (field) {
                        case "id" -> id = value;
                        case "event" -> name = value;
                        case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                        default -> { }
                    }
                }
            }
        } catch (RuntimeException e) {
            // connection closed under us: the end
        } finally {
            events.add(END);
        }
    }

    /** The next event or comment, {@link #END} at the end of the stream; fails after {@code timeout}. */
    public Event next(Duration timeout) throws InterruptedException {
        Event e = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (e == null) {
            throw new AssertionError("no event within " + timeout);
        }
        return e;
    }

    /** The next event, skipping heartbeat comments. */
    public Event nextEvent(Duration timeout) throws InterruptedException {
        Event e;
        do {
            e = next(timeout);
        } while (e.isComment());
        return e;
    }

    /** Every event up to the end of the stream (comments left out). */
    public List<Event> rest(Duration timeout) throws InterruptedException {
        List<Event> all = new ArrayList<>();
        for (Event e = nextEvent(timeout); e != END; e = nextEvent(timeout)) {
            all.add(e);
        }
        return all;
    }

    @Override
    public void close() {
        reader.interrupt();
        try {
            response.body().close();
        } catch (RuntimeException ignored) {
            // already closed
        }
    }
}
