package dev.sdcfg.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Memory-mapped reader of the safetensors format (8-byte little-endian header length, JSON header, raw data).
 *
 * <p>DJL's own reader ({@code NDList.decode}) reads a whole file into one {@code byte[]} with int offsets and fails
 * beyond 2 GiB (an SD1.5 fp32 UNet is 3.4 GB). Here each tensor is mapped on its own, which works for any file
 * size as long as one tensor is under 2 GiB. The mapping is read-only and DJL wraps a direct buffer without
 * copying on the CPU, so every loaded tensor is copied out of the mapping (a conversion or an explicit copy):
 * an in-place op on a weight must never write to a read-only page.
 * bf16 is widened in Java while loading because DJL's JNI crashes on bf16 tensors.
 */
public final class Safetensors implements AutoCloseable {

    /** One header entry. {@code begin}/{@code end} are absolute file offsets. */
    public record TensorInfo(String key, String dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public Shape djlShape() {
            return new Shape(shape);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private Safetensors(Path path, FileChannel channel, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static Safetensors open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new IOException(path + ": not a safetensors file (" + size + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > 100_000_000L || 8 + headerLen > size) {
                throw new IOException(path + ": invalid safetensors header length " + headerLen);
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            String json = new String(hb.array(), StandardCharsets.UTF_8);
            JsonObject header;
            try {
                header = JsonParser.parseString(json).getAsJsonObject();
            } catch (RuntimeException e) {
                throw new IOException(path + ": safetensors header is not valid JSON: " + e.getMessage(), e);
            }
            long dataStart = 8 + headerLen;
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        metadata.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                String dtype = t.get("dtype").getAsString();
                var shapeArr = t.getAsJsonArray("shape");
                long[] shape = new long[shapeArr.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeArr.get(i).getAsLong();
                }
                var off = t.getAsJsonArray("data_offsets");
                long begin = dataStart + off.get(0).getAsLong();
                long end = dataStart + off.get(1).getAsLong();
                TensorInfo info = new TensorInfo(e.getKey(), dtype, shape, begin, end);
                long expected = info.numel() * bytesPerElement(dtype, path, e.getKey());
                if (end < begin || end > size || end - begin != expected) {
                    throw new IOException(path + ": tensor '" + e.getKey() + "' has data offsets ["
                            + off.get(0) + ", " + off.get(1) + ") that do not match its " + dtype + " shape "
                            + java.util.Arrays.toString(shape) + " or the file size");
                }
                tensors.put(e.getKey(), info);
            }
            return new Safetensors(path, ch, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    static int bytesPerElement(String dtype, Path path, String key) throws IOException {
        switch (dtype) {
            case "F64":
            case "I64":
            case "U64":
                return 8;
            case "F32":
            case "I32":
            case "U32":
                return 4;
            case "F16":
            case "BF16":
            case "I16":
            case "U16":
                return 2;
            case "I8":
            case "U8":
            case "BOOL":
                return 1;
            default:
                throw new IOException(path + ": tensor '" + key + "' has unsupported dtype " + dtype);
        }
    }

    public Path path() {
        return path;
    }

    public Set<String> keys() {
        return tensors.keySet();
    }

    public boolean contains(String key) {
        return tensors.containsKey(key);
    }

    public TensorInfo info(String key) {
        TensorInfo info = tensors.get(key);
        if (info == null) {
            throw new IllegalArgumentException(path + ": no tensor '" + key + "'");
        }
        return info;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Maps the raw bytes of one tensor (read-only, little-endian). */
    public ByteBuffer raw(String key) throws IOException {
        TensorInfo info = info(key);
        long len = info.end() - info.begin();
        if (len > Integer.MAX_VALUE) {
            throw new IOException(path + ": tensor '" + key + "' is larger than 2 GiB");
        }
        if (len == 0) {
            return ByteBuffer.allocateDirect(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        return channel.map(FileChannel.MapMode.READ_ONLY, info.begin(), len).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Loads one tensor into {@code manager} (on the manager's device), converted to {@code target}. Floating
     * tensors are converted to {@code target}; integer tensors keep their type when {@code target} is null.
     */
    public NDArray load(String key, NDManager manager, DataType target) throws IOException {
        return load(key, manager, target, null);
    }

    /**
     * A part of a stored tensor that a model reads as a tensor of its own (single-file checkpoints in the OpenCLIP
     * layout): rows [{@code rowFrom}, {@code rowTo}) of dimension 0 (one of an attention's fused q/k/v in
     * {@code in_proj_weight}), then, when {@code transpose}, the transpose of that 2-D tensor (OpenCLIP stores
     * {@code text_projection} as [width, dim], transformers as [dim, width]). Cut from the file's bytes, so the
     * values are the stored ones bit for bit and the tensor is contiguous.
     */
    public record Cut(long rowFrom, long rowTo, boolean transpose) {

        /** Rows [from, to) of dimension 0. */
        public static Cut rows(long from, long to) {
            return new Cut(from, to, false);
        }

        /** The whole 2-D tensor, transposed. */
        public static Cut transposed() {
            return new Cut(0, -1, true);
        }

        /** The shape of the cut of a tensor stored as {@code stored}. */
        public long[] shapeOf(long[] stored) {
            long[] s = stored.clone();
            if (rowTo >= 0) {
                s[0] = rowTo - rowFrom;
            }
            if (transpose) {
                return new long[] {s[1], s[0]};
            }
            return s;
        }

        void check(Path path, String key, long[] stored) throws IOException {
            if (stored.length == 0 || (transpose && stored.length != 2)
                    || rowFrom < 0 || (rowTo >= 0 && (rowTo <= rowFrom || rowTo > stored[0]))) {
                throw new IOException(path + ": tensor '" + key + "' of shape " + Arrays.toString(stored)
                        + " cannot be cut as " + this);
            }
        }
    }

    /** {@link #load(String, NDManager, DataType)} of the part {@code cut} names ({@code null}: the whole tensor). */
    public NDArray load(String key, NDManager manager, DataType target, Cut cut) throws IOException {
        TensorInfo info = info(key);
        ByteBuffer buf = raw(key);
        Shape shape = info.djlShape();
        if (cut != null) {
            cut.check(path, key, info.shape());
            long[] s = info.shape();
            long rowBytes = (info.end() - info.begin()) / s[0];
            if (cut.rowTo() >= 0) {
                buf = buf.slice(Math.toIntExact(cut.rowFrom() * rowBytes),
                        Math.toIntExact((cut.rowTo() - cut.rowFrom()) * rowBytes)).order(ByteOrder.LITTLE_ENDIAN);
            }
            if (cut.transpose()) {
                long rows = cut.rowTo() >= 0 ? cut.rowTo() - cut.rowFrom() : s[0];
                buf = transpose(buf, Math.toIntExact(rows), Math.toIntExact(s[1]), Math.toIntExact(rowBytes / s[1]));
            }
            shape = new Shape(cut.shapeOf(s));
            info = new TensorInfo(key, info.dtype(), shape.getShape(), 0, buf.remaining());
        }
        NDArray cpu;
        NDManager cpuManager = manager.getDevice().isGpu() ? manager.newSubManager(ai.djl.Device.cpu()) : null;
        NDManager into = cpuManager != null ? cpuManager : manager;
        try {
            switch (info.dtype()) {
                case "BF16":
                    cpu = into.create(widenBf16(buf, info.numel()), shape);
                    break;
                case "F16":
                    cpu = into.create(buf, shape, DataType.FLOAT16);
                    break;
                case "F32":
                    cpu = into.create(buf, shape, DataType.FLOAT32);
                    break;
                case "F64":
                    cpu = into.create(buf, shape, DataType.FLOAT64);
                    break;
                case "I64":
                    cpu = into.create(buf, shape, DataType.INT64);
                    break;
                case "I32":
                    cpu = into.create(buf, shape, DataType.INT32);
                    break;
                case "I8":
                    cpu = into.create(buf, shape, DataType.INT8);
                    break;
                case "U8":
                    cpu = into.create(buf, shape, DataType.UINT8);
                    break;
                case "BOOL":
                    cpu = into.create(buf, shape, DataType.BOOLEAN);
                    break;
                default:
                    throw new IOException(path + ": tensor '" + key + "' has dtype " + info.dtype()
                            + ", which this reader does not load");
            }
            NDArray result;
            if (target != null && cpu.getDataType().isFloating() && cpu.getDataType() != target) {
                result = cpu.toType(target, false);
            } else if (cpuManager == null && !"BF16".equals(info.dtype())) {
                result = cpu.duplicate(); // own memory instead of the read-only mapping
            } else {
                result = cpu;
            }
            if (cpuManager != null) {
                NDArray moved = result.toDevice(manager.getDevice(), false);
                moved.attach(manager);
                return moved;
            }
            if (result != cpu) {
                cpu.close();
            }
            return result;
        } finally {
            if (cpuManager != null) {
                cpuManager.close();
            }
        }
    }

    /** The 2-D transpose of a row-major [rows, cols] tensor of {@code elem}-byte values. */
    private static ByteBuffer transpose(ByteBuffer src, int rows, int cols, int elem) {
        ByteBuffer out = ByteBuffer.allocateDirect(rows * cols * elem).order(ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                int from = (r * cols + c) * elem;
                for (int b = 0; b < elem; b++) {
                    out.put(src.get(from + b));
                }
            }
        }
        return out.flip();
    }

    /** bf16 is the upper half of an fp32: shift each value left by 16 bits. */
    static FloatBuffer widenBf16(ByteBuffer src, long numel) {
        ShortBuffer s = src.asShortBuffer();
        FloatBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(numel * 4)).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < numel; i++) {
            out.put(i, Float.intBitsToFloat((s.get(i) & 0xFFFF) << 16));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Closes without a checked exception: the mapping is read-only, there is nothing to flush or lose. */
    public void closeQuietly() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only: nothing to flush
        }
    }

    @Override
    public String toString() {
        return "Safetensors[" + path + ", " + tensors.size() + " tensors]";
    }
}
