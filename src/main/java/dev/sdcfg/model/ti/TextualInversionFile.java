package dev.sdcfg.model.ti;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.DjlRuntime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * One textual-inversion embedding read from a {@code .safetensors} file: {@code vectors} [n, dim] as float64 values
 * (exact for the fp16/bf16/fp32/fp64 files embeddings come in), named after the file (its name without
 * {@code .safetensors}, the word a prompt uses). Formats, as diffusers' {@code _retrieve_tokens_and_embeddings}
 * reads them and A1111 writes them:
 * <ul>
 * <li>one tensor under any key: A1111's {@code emb_params} [n, dim], diffusers' {@code <token>} [dim] or [n, dim];</li>
 * <li>A1111's {@code string_to_param} dict, flattened in safetensors to the key {@code string_to_param.*} (other
 * A1111 bookkeeping keys beside it are not tensors safetensors can hold, so any other key is refused);</li>
 * <li>SDXL's {@code clip_l} [n, 768] and {@code clip_g} [n, 1280] (A1111, Civitai): one table per text encoder,
 * both with the same number of vectors; {@link #clipG()} holds the second, what diffusers' documented
 * {@code load_textual_inversion(state_dict["clip_g"], token=name, text_encoder=pipe.text_encoder_2,
 * tokenizer=pipe.tokenizer_2)} loads.</li>
 * </ul>
 * Anything else fails naming file and keys; nothing is guessed.
 */
public final class TextualInversionFile {

    /** The suffix an embedding file must have; the rest of the file name is the embedding's name. */
    public static final String SUFFIX = ".safetensors";

    private static final String A1111_DICT_KEY = "string_to_param.*";

    private final String name;
    private final Path path;
    private final String key;
    private final int count;
    private final int dim;
    private final double[] values;
    /** SDXL: the {@code clip_g} table (this one is {@code clip_l}); null for SD 1.x/2.x embeddings. */
    private final TextualInversionFile clipG;

    private TextualInversionFile(String name, Path path, String key, int count, int dim, double[] values,
                                 TextualInversionFile clipG) {
        this.name = name;
        this.path = path;
        this.key = key;
        this.count = count;
        this.dim = dim;
        this.values = values;
        this.clipG = clipG;
    }

    /** Reads and checks {@code path}; the name is the file name without {@link #SUFFIX}. */
    public static TextualInversionFile read(Path path) {
        String file = path.getFileName().toString();
        if (!file.endsWith(SUFFIX) || file.length() == SUFFIX.length()) {
            throw new ModelLoadException("textual inversion " + path + ": only " + SUFFIX
                    + " embeddings are read (pickle .pt/.bin files are never unpickled; convert them to safetensors)");
        }
        String name = file.substring(0, file.length() - SUFFIX.length());
        Safetensors f;
        try {
            f = Safetensors.open(path);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read textual inversion " + path + ": " + e.getMessage(), e);
        }
        try {
            if (f.keys().contains("clip_l") || f.keys().contains("clip_g")) {
                if (!f.keys().equals(Set.of("clip_l", "clip_g"))) {
                    throw new ModelLoadException("textual inversion " + path + ": an SDXL embedding holds exactly"
                            + " 'clip_l' and 'clip_g', found keys " + new TreeSet<>(f.keys()));
                }
                TextualInversionFile g = table(name, path, f, "clip_g", null);
                TextualInversionFile l = table(name, path, f, "clip_l", g);
                if (l.count != g.count) {
                    throw new ModelLoadException("textual inversion " + path + ": 'clip_l' has " + l.count
                            + " vectors and 'clip_g' " + g.count + "; an SDXL embedding has as many for both encoders");
                }
                return l;
            }
            return table(name, path, f, pickKey(path, f.keys()), null);
        } finally {
            f.closeQuietly();
        }
    }

    /** One [n, dim] or [dim] table of {@code f}, checked. */
    private static TextualInversionFile table(String name, Path path, Safetensors f, String key,
                                              TextualInversionFile clipG) {
        Safetensors.TensorInfo info = f.info(key);
        long[] shape = info.shape();
        if (!Set.of("F16", "BF16", "F32", "F64").contains(info.dtype())) {
            throw new ModelLoadException("textual inversion " + path + ": tensor '" + key + "' has dtype "
                    + info.dtype() + "; an embedding is floating point (F16, BF16, F32 or F64)");
        }
        if (shape.length < 1 || shape.length > 2 || shape[shape.length - 1] < 1
                || (shape.length == 2 && shape[0] < 1)) {
            throw new ModelLoadException("textual inversion " + path + ": tensor '" + key + "' has shape "
                    + java.util.Arrays.toString(shape) + "; expected [dim] or [n_vectors, dim]");
        }
        int count = shape.length == 2 ? Math.toIntExact(shape[0]) : 1;
        int dim = Math.toIntExact(shape[shape.length - 1]);
        double[] values;
        try (NDManager m = DjlRuntime.engine().newBaseManager(ai.djl.Device.cpu());
             NDArray a = f.load(key, m, DataType.FLOAT64)) {
            values = a.toDoubleArray();
        } catch (IOException e) {
            throw new ModelLoadException("cannot read textual inversion " + path + " tensor '" + key + "': "
                    + e.getMessage(), e);
        }
        for (double v : values) {
            if (!Double.isFinite(v)) {
                throw new ModelLoadException("textual inversion " + path + ": tensor '" + key
                        + "' holds a non-finite value");
            }
        }
        return new TextualInversionFile(name, path, key, count, dim, values, clipG);
    }

    private static String pickKey(Path path, Set<String> keys) {
        if (keys.contains(A1111_DICT_KEY)) {
            if (keys.size() != 1) {
                Set<String> other = new TreeSet<>(keys);
                other.remove(A1111_DICT_KEY);
                throw new ModelLoadException("textual inversion " + path + ": unknown keys " + other + " beside '"
                        + A1111_DICT_KEY + "'");
            }
            return A1111_DICT_KEY;
        }
        if (keys.size() != 1) {
            throw new ModelLoadException("textual inversion " + path + ": expected one tensor (A1111 'emb_params',"
                    + " a diffusers '<token>' key, or 'string_to_param.*'), found keys " + new TreeSet<>(keys));
        }
        return keys.iterator().next();
    }

    /** Fails naming file and key unless the vectors are {@code hiddenSize} wide (the text encoder's width). */
    public void requireWidth(int hiddenSize) {
        if (dim != hiddenSize) {
            throw new ModelLoadException("textual inversion " + path + ": tensor '" + key + "' has width " + dim
                    + " but the text encoder's hidden size is " + hiddenSize
                    + " (an embedding trained for another model family)");
        }
    }

    public String name() {
        return name;
    }

    public Path path() {
        return path;
    }

    /** The tensor the vectors came from. */
    public String key() {
        return key;
    }

    /** The number of vectors (tokens) the name stands for. */
    public int vectorCount() {
        return count;
    }

    public int dim() {
        return dim;
    }

    /** True for an SDXL embedding ({@code clip_l} here, {@code clip_g} in {@link #clipG()}). */
    public boolean isSdxl() {
        return clipG != null;
    }

    /** SDXL: the {@code clip_g} table, for text_encoder_2; null otherwise. */
    public TextualInversionFile clipG() {
        return clipG;
    }

    /** The vectors, row-major [vectorCount, dim]; a copy. */
    public double[] values() {
        return values.clone();
    }
}
