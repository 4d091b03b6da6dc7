package dev.sdcfg.pipeline.prompt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;

/**
 * A1111's {@code FrozenCLIPEmbedderWithCustomWordsBase.forward} / {@code process_tokens} with emphasis "Original"
 * (modules/sd_hijack_clip.py, modules/sd_emphasis.py): each chunk of {@link PromptChunker.Chunks} is encoded on its
 * own ([1, 77] ids → z [1, 77, C]), then
 * <pre>
 * original_mean = z.mean();  z = z · multipliers[..., None];  z = z · (original_mean / z.mean())
 * </pre>
 * and the chunks' z are concatenated along the sequence axis: [1, 77·k, C]. The multipliers are float32 (as A1111's
 * {@code torch.asarray} makes them) promoted to z's dtype.
 *
 * <p>The text encoder is a {@link ChunkEncoder}, so a model with several text encoders (SDXL) runs this once per
 * encoder and can keep what it needs from a chunk, e.g. the pooled output of chunk 0 (A1111: {@code zs[0].pooled}).
 */
public final class WeightedPromptEncoder {

    /** Encodes one chunk's ids ([1, 77], int64) to z ([1, 77, C]) attached to {@code ids}' manager. */
    @FunctionalInterface
    public interface ChunkEncoder {
        NDArray encode(NDArray ids, int chunkIndex);
    }

    private WeightedPromptEncoder() {
    }

    /** z of every chunk, weighted, concatenated: [1, 77·k, C], attached to {@code into}. */
    public static NDArray encode(PromptChunker.Chunks chunks, ChunkEncoder encoder, NDManager into) {
        List<NDArray> zs = new ArrayList<>(chunks.size());
        try (NDManager work = into.newSubManager()) {
            for (int i = 0; i < chunks.size(); i++) {
                long[] ids = chunks.tokens().get(i);
                NDArray z = encoder.encode(work.create(ids, new Shape(1, ids.length)), i);
                z.attach(work);
                if (!chunks.unweighted(i)) {
                    z = emphasis(z, chunks.multipliers().get(i));
                }
                zs.add(z);
            }
            NDArray out = zs.size() == 1 ? zs.get(0) : NDArrays.concat(new NDList(zs), 1);
            out.attach(into);
            return out;
        }
    }

    /**
     * sd_emphasis.EmphasisOriginal.after_transformers. Skipped by {@link #encode} when every multiplier is 1: z·1
     * is z and the mean ratio is exactly 1, so A1111's result is the same bits.
     */
    static NDArray emphasis(NDArray z, float[] multipliers) {
        if (z.getDataType() == DataType.FLOAT16) {
            // torch promotes half z times float32 multipliers to float32: the means are taken in float32 there too
            return emphasis(z.toType(DataType.FLOAT32, false), multipliers).toType(DataType.FLOAT16, false);
        }
        NDArray originalMean = z.mean();
        NDArray m = z.getManager().create(multipliers, new Shape(1, multipliers.length, 1));
        if (z.getDataType() != DataType.FLOAT32) {
            m = m.toType(z.getDataType(), false);
        }
        NDArray weighted = z.mul(m);
        return weighted.mul(originalMean.div(weighted.mean()));
    }
}
