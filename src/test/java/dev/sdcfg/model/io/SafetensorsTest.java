package dev.sdcfg.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsTest {

    /** Writes a safetensors file with one tensor of the given dtype and raw little-endian bytes. */
    static Path write(Path dir, String key, String dtype, long[] shape, byte[] data) throws IOException {
        StringBuilder sh = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            sh.append(i == 0 ? "" : ",").append(shape[i]);
        }
        String header = "{\"" + key + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + sh + "],\"data_offsets\":[0,"
                + data.length + "]},\"__metadata__\":{\"format\":\"pt\"}}";
        byte[] hb = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + hb.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(hb.length).put(hb).put(data);
        Path p = dir.resolve(key + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    @Test
    void readsFixtureTensorsAndMetadata() throws IOException {
        try (Safetensors st = Safetensors.open(Fixtures.golden().resolve("unet_f32.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
            assertTrue(st.contains("sample"));
            assertArrayEquals(new long[] {2, 4, 16, 16}, st.info("sample").shape());
            NDArray a = st.load("sample", m, DataType.FLOAT32);
            assertEquals(DataType.FLOAT32, a.getDataType());
            NDArray d = st.load("sample", m, DataType.FLOAT64);
            assertEquals(DataType.FLOAT64, d.getDataType());
            assertEquals(0.0, Fixtures.relL2(a, d), 0.0);
        }
    }

    @Test
    void widensBf16AndFp16(@TempDir Path dir) throws IOException {
        // 1.5, -2.0, 0.099609375 (exact in bf16) and 3.0
        float[] values = {1.5f, -2.0f, 0.099609375f, 3.0f};
        ByteBuffer bf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bf.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        ByteBuffer hf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (short h : new short[] {0x3E00, (short) 0xC000, 0x2E60, 0x4200}) { // the same values in IEEE half
            hf.putShort(h);
        }
        try (NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             Safetensors a = Safetensors.open(write(dir, "bf", "BF16", new long[] {2, 2}, bf.array()));
             Safetensors b = Safetensors.open(write(dir, "hf", "F16", new long[] {2, 2}, hf.array()))) {
            assertArrayEquals(values, a.load("bf", m, DataType.FLOAT32).toFloatArray());
            assertArrayEquals(values, b.load("hf", m, DataType.FLOAT32).toFloatArray());
            assertEquals(DataType.FLOAT16, a.load("bf", m, DataType.FLOAT16).getDataType());
        }
    }

    @Test
    void rejectsInconsistentOffsets(@TempDir Path dir) throws IOException {
        Path p = write(dir, "x", "F32", new long[] {3}, new byte[8]);
        IOException e = assertThrows(IOException.class, () -> Safetensors.open(p));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
    }
}
