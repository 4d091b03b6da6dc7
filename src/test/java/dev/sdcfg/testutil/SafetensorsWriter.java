package dev.sdcfg.testutil;

import dev.sdcfg.model.io.Safetensors;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Writes small safetensors files for tests (header padded to 8 bytes, tensors in insertion order). */
public final class SafetensorsWriter {

    private record Entry(String key, String dtype, long[] shape, byte[] data) {
    }

    private final List<Entry> entries = new ArrayList<>();

    /** Adds a tensor; {@code data} is its raw little-endian bytes. */
    public SafetensorsWriter add(String key, String dtype, long[] shape, byte[] data) {
        entries.add(new Entry(key, dtype, shape.clone(), data.clone()));
        return this;
    }

    /** Copies tensor {@code key} of {@code source} (its dtype and raw bytes) as {@code newKey} with {@code shape}. */
    public SafetensorsWriter copy(Safetensors source, String key, String newKey, long[] shape) throws IOException {
        ByteBuffer raw = source.raw(key);
        byte[] data = new byte[raw.remaining()];
        raw.get(data);
        return add(newKey, source.info(key).dtype(), shape, data);
    }

    public SafetensorsWriter addInt64(String key, long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return add(key, "I64", shape, b.array());
    }

    /** Adds an F32 tensor. */
    public SafetensorsWriter put(String key, long[] shape, float[] values) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException(key + ": shape has " + n + " elements, data " + values.length);
        }
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return add(key, "F32", shape, b.array());
    }

    public void write(Path file) throws IOException {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Entry e : entries) {
            h.append(",\"").append(e.key).append("\":{\"dtype\":\"").append(e.dtype).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) {
                h.append(i == 0 ? "" : ",").append(e.shape[i]);
            }
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + e.data.length).append("]}");
            offset += e.data.length;
        }
        h.append('}');
        while ((h.toString().getBytes(StandardCharsets.UTF_8).length) % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            out.write(header);
            for (Entry e : entries) {
                out.write(e.data);
            }
        }
    }
}
