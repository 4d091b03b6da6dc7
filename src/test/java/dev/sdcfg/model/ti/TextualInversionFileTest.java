package dev.sdcfg.model.ti;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedding formats read, and every malformed file refused naming file and key. */
class TextualInversionFileTest {

    @TempDir
    Path dir;

    private Path write(String file, SafetensorsWriter w) throws IOException {
        Path p = dir.resolve(file);
        w.write(p);
        return p;
    }

    private static float[] seq(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.25f * i - 1;
        }
        return v;
    }

    @Test
    void readsA1111DiffusersAndStringToParam() throws IOException {
        TextualInversionFile a = TextualInversionFile.read(write("style-a.safetensors",
                new SafetensorsWriter().put("emb_params", new long[] {3, 4}, seq(12))));
        assertEquals("style-a", a.name());
        assertEquals(3, a.vectorCount());
        assertEquals(4, a.dim());
        assertEquals(-1.0, a.values()[0]);
        assertEquals(1.75, a.values()[11]);
        TextualInversionFile d = TextualInversionFile.read(write("cat-toy.safetensors",
                new SafetensorsWriter().put("<cat-toy>", new long[] {4}, seq(4))));
        assertEquals(1, d.vectorCount());
        assertEquals("<cat-toy>", d.key());
        TextualInversionFile s = TextualInversionFile.read(write("s.safetensors",
                new SafetensorsWriter().put("string_to_param.*", new long[] {2, 4}, seq(8))));
        assertEquals(2, s.vectorCount());
    }

    private static void refused(Path p, String... words) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> TextualInversionFile.read(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void refusesUnknownFormatsWithFileAndKeys() throws IOException {
        // SDXL: exactly clip_l and clip_g, with as many vectors each
        refused(write("sdxl.safetensors", new SafetensorsWriter().put("clip_l", new long[] {1, 4}, seq(4))
                .put("clip_g", new long[] {2, 8}, seq(16))), "'clip_l' has 1 vectors", "'clip_g' 2");
        refused(write("sdxl3.safetensors", new SafetensorsWriter().put("clip_l", new long[] {1, 4}, seq(4))
                .put("clip_g", new long[] {1, 8}, seq(8)).put("emb_params", new long[] {4}, seq(4))),
                "SDXL", "[clip_g, clip_l, emb_params]");
        refused(write("half.safetensors", new SafetensorsWriter().put("clip_g", new long[] {1, 8}, seq(8))),
                "SDXL", "[clip_g]");
        refused(write("two.safetensors", new SafetensorsWriter().put("a", new long[] {4}, seq(4))
                .put("b", new long[] {4}, seq(4))), "[a, b]");
        refused(write("extra.safetensors", new SafetensorsWriter().put("string_to_param.*", new long[] {4}, seq(4))
                .put("step", new long[] {1}, seq(1))), "step");
        refused(write("cube.safetensors", new SafetensorsWriter().put("emb_params", new long[] {1, 2, 2}, seq(4))),
                "emb_params", "[1, 2, 2]");
        refused(write("ints.safetensors", new SafetensorsWriter().addInt64("emb_params", new long[] {2}, new long[2])),
                "emb_params", "I64");
        float[] nan = seq(4);
        nan[2] = Float.NaN;
        refused(write("nan.safetensors", new SafetensorsWriter().put("emb_params", new long[] {4}, nan)),
                "emb_params", "non-finite");
        Path truncated = dir.resolve("cut.safetensors");
        Files.write(truncated, new byte[] {(byte) 200, 0, 0, 0, 0, 0, 0, 0, '{'});
        refused(truncated);
        Path pickle = dir.resolve("old.pt");
        Files.write(pickle, new byte[] {(byte) 0x80, 2});
        refused(pickle, "safetensors");
    }

    @Test
    void wrongWidthNamesFileAndKey() throws IOException {
        Path p = write("wide.safetensors", new SafetensorsWriter().put("emb_params", new long[] {2, 8}, seq(16)));
        TextualInversionFile f = TextualInversionFile.read(p);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> f.requireWidth(32));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("emb_params")
                && e.getMessage().contains("32"), e.getMessage());
        try (ClipTokenizer tok = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"))) {
            assertThrows(ModelLoadException.class, () -> new TextualInversionTokens(tok, 49408, 32, List.of(f)));
        }
    }

    @Test
    void namesBecomeConsecutiveNewIdsAndTruncationKeepsEos() throws IOException {
        TextualInversionFile a = TextualInversionFile.read(write("ab.safetensors",
                new SafetensorsWriter().put("emb_params", new long[] {3, 4}, seq(12))));
        TextualInversionFile b = TextualInversionFile.read(write("abc.safetensors",
                new SafetensorsWriter().put("emb_params", new long[] {1, 4}, seq(4))));
        try (ClipTokenizer tok = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"))) {
            TextualInversionTokens ti = new TextualInversionTokens(tok, 100, 4, List.of(a, b));
            assertEquals(4, ti.extraRowCount());
            // the longest name wins where two start at the same place; a name inside a word still matches
            long[] photo = tok.tokenIds("photo");
            long[] ids = ti.tokenIds("abc photo ab");
            assertArrayEquals(new long[] {103, photo[0], 100, 101, 102}, ids);
            assertTrue(ti.usedIn("an abc") && !ti.usedIn("a b c"));
            ClipTokenizer.Encoding e = ti.encode("ab ".repeat(40));
            assertEquals(tok.eosId(), e.ids()[tok.maxLength() - 1]);
            assertTrue(e.truncated());
            assertEquals(102, e.ids()[3]);
        }
    }
}
