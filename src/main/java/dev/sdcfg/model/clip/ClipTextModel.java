package dev.sdcfg.model.clip;

import dev.sdcfg.runtime.ForwardScope;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code CLIPTextModel} (the text tower Stable Diffusion conditions on), inference only.
 *
 * <pre>
 * h0 = token_embedding[ids] + position_embedding[0..T)
 * h(i+1) = layer_i(h(i)):  x += out_proj(causal_attention(q,k,v of layer_norm1(x)));  x += fc2(act(fc1(layer_norm2(x))))
 * last_hidden_state = final_layer_norm(hN)
 * </pre>
 * Attention is multi-head with scale head_dim^-0.5 and only a causal mask: diffusers never passes the tokenizer's
 * attention mask to the text encoder, so padding positions attend to everything before them (and, being causal,
 * never influence the real tokens). {@code hidden_act} is {@code quick_gelu} (SD 1.x) or exact-erf {@code gelu}
 * (SD 2.x).
 *
 * <p>Parameter names are the checkpoint keys ({@code encoder.layers.0.self_attn.q_proj.weight}), read through
 * {@link ParamLoader} with the same policy as the UNet and the VAE: a missing or mis-shaped tensor, or one the model
 * does not read, fails the load naming file and key, except {@link #IGNORED_KEYS}. Checkpoints saved by
 * transformers 4.x prefix the keys with {@code text_model.}; the prefix resolves through a {@link Weights} alias.
 *
 * <p>Weights live in this model's own manager, in the context's dtype, until {@link #close()}. Each forward runs
 * in an {@link NDScope}; its results belong to the manager of the {@code inputIds} passed in. One thread at a time.
 */
public final class ClipTextModel implements AutoCloseable {

    /** The prefix transformers 4.x checkpoints put before every key. */
    public static final String LEGACY_PREFIX = "text_model.";

    /**
     * Checkpoint tensors that are known and not read. {@code embeddings.position_ids} is CLIPTextEmbeddings' buffer
     * {@code arange(max_position_embeddings)} ([1, 77] int64): checkpoints saved by transformers before 4.31, as SD
     * 1.x/2.x's {@code text_encoder} (issue threads quote {@code text_model.embeddings.position_ids} from them),
     * hold it; transformers has registered it non-persistent since and drops a model's buffers from the unexpected
     * keys ({@code modeling_utils}: {@code unexpected_keys - model_buffers}), so the stored values are never read.
     * Here too: positions are always 0..T−1.
     */
    public static final List<String> IGNORED_KEYS = List.of("embeddings.position_ids");

    private final ComputeContext context;
    private final NDManager manager;
    private final String source;
    private final int hiddenSize;
    private final int numHeads;
    private final int headDim;
    private final int numLayers;
    private final int maxPositions;
    private final int vocabSize;
    private final double layerNormEps;
    private final boolean quickGelu;

    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final Layer[] layers;
    private final NDArray finalLnWeight;
    private final NDArray finalLnBias;
    /** CLIPTextModelWithProjection's {@code text_projection.weight} [projection_dim, hidden] (no bias), or null. */
    private final NDArray textProjection;
    /** Config {@code eos_token_id}: 2 (old configs) pools at argmax(ids), else at the first id equal to it. */
    private final long eosTokenId;
    /** [maxPositions, maxPositions]: 0 on and below the diagonal, −inf above. */
    private final NDArray causalMask;
    /** head_dim^-0.5 as a 0-d tensor of the compute dtype (no scalar created per call). */
    private final NDArray scale;

    private record Layer(NDArray ln1W, NDArray ln1B, NDArray qW, NDArray qB, NDArray kW, NDArray kB, NDArray vW,
                         NDArray vB, NDArray outW, NDArray outB, NDArray ln2W, NDArray ln2B, NDArray fc1W,
                         NDArray fc1B, NDArray fc2W, NDArray fc2B) {
    }

    /** The two outputs Stable Diffusion reads. Both belong to the manager of the input ids. */
    public record Output(NDArray lastHiddenState, NDArray penultimateHiddenState) implements AutoCloseable {
        @Override
        public void close() {
            lastHiddenState.close();
            penultimateHiddenState.close();
        }
    }

    /**
     * What SDXL's encode_prompt reads from an encoder: {@code hidden_states[-(clip_skip + 2)]} [B, T, hidden] (no
     * final layer norm) and, from a CLIPTextModelWithProjection, {@code text_embeds} [B, projection_dim] (null
     * otherwise). Both belong to the manager of the input ids.
     */
    public record PooledOutput(NDArray hiddenStates, NDArray textEmbeds) implements AutoCloseable {
        @Override
        public void close() {
            hiddenStates.close();
            if (textEmbeds != null) {
                textEmbeds.close();
            }
        }
    }

    /**
     * Loads a diffusers {@code text_encoder_2/} folder holding transformers' {@code CLIPTextModelWithProjection}
     * (SDXL): the text tower plus {@code text_projection.weight}.
     */
    public static ClipTextModel loadWithProjection(Path textEncoderDir, String variant, ComputeContext context) {
        JsonConfig config = JsonConfig.read(textEncoderDir.resolve("config.json"));
        try (Weights weights = Weights.openComponent(textEncoderDir, variant)) {
            return new ClipTextModel(config, weights, context, true);
        }
    }

    /**
     * Loads a diffusers {@code text_encoder/} folder ({@code config.json} + safetensors weights).
     *
     * @param variant "fp16" to prefer {@code *.fp16.safetensors}, or null
     */
    public static ClipTextModel load(Path textEncoderDir, String variant, ComputeContext context) {
        JsonConfig config = JsonConfig.read(textEncoderDir.resolve("config.json"));
        try (Weights weights = Weights.openComponent(textEncoderDir, variant)) {
            return new ClipTextModel(config, weights, context);
        }
    }

    /**
     * Builds the model from a config and opened weights (copied into this model's manager; {@code weights} may be
     * closed afterwards).
     */
    public ClipTextModel(JsonConfig config, Weights weights, ComputeContext context) {
        this(config, weights, context, false);
    }

    /**
     * @param withProjection transformers' CLIPTextModelWithProjection: also reads {@code text_projection.weight}
     *                       ([projection_dim, hidden_size]) and computes {@code text_embeds}
     */
    public ClipTextModel(JsonConfig config, Weights weights, ComputeContext context, boolean withProjection) {
        DjlRuntime.engine();
        this.context = context;
        this.source = config.source();
        DataType dt = context.dtype();
        if (dt != DataType.FLOAT32 && dt != DataType.FLOAT64 && dt != DataType.FLOAT16) {
            throw new IllegalArgumentException("unsupported compute dtype " + dt);
        }
        checkConfigKeys(config);
        hiddenSize = config.requireInt("hidden_size");
        numHeads = config.requireInt("num_attention_heads");
        numLayers = config.requireInt("num_hidden_layers");
        int intermediate = config.requireInt("intermediate_size");
        maxPositions = config.getInt("max_position_embeddings", 77);
        vocabSize = config.getInt("vocab_size", 49408);
        layerNormEps = config.getDouble("layer_norm_eps", 1e-5);
        quickGelu = "quick_gelu".equals(config.getEnum("hidden_act", "quick_gelu", "quick_gelu", "gelu"));
        if (hiddenSize <= 0 || numHeads <= 0 || hiddenSize % numHeads != 0) {
            throw new ModelLoadException(source + ": 'hidden_size' " + hiddenSize
                    + " is not a positive multiple of 'num_attention_heads' " + numHeads);
        }
        if (numLayers < 1) {
            throw new ModelLoadException(source + ": 'num_hidden_layers' must be at least 1, got " + numLayers);
        }
        headDim = hiddenSize / numHeads;

        Weights w = weights.withAliases(k -> List.of(LEGACY_PREFIX + k));
        manager = DjlRuntime.engine().newBaseManager(context.device());
        manager.setName("clip-text-model");
        try {
            ParamLoader root = ParamLoader.root(w, manager, dt);
            long c = hiddenSize;
            tokenEmbedding = load(root, "embeddings.token_embedding.weight", vocabSize, c);
            positionEmbedding = load(root, "embeddings.position_embedding.weight", maxPositions, c);
            layers = new Layer[numLayers];
            for (int i = 0; i < numLayers; i++) {
                ParamLoader p = root.child("encoder.layers." + i);
                layers[i] = new Layer(
                        load(p, "layer_norm1.weight", c), load(p, "layer_norm1.bias", c),
                        load(p, "self_attn.q_proj.weight", c, c), load(p, "self_attn.q_proj.bias", c),
                        load(p, "self_attn.k_proj.weight", c, c), load(p, "self_attn.k_proj.bias", c),
                        load(p, "self_attn.v_proj.weight", c, c), load(p, "self_attn.v_proj.bias", c),
                        load(p, "self_attn.out_proj.weight", c, c), load(p, "self_attn.out_proj.bias", c),
                        load(p, "layer_norm2.weight", c), load(p, "layer_norm2.bias", c),
                        load(p, "mlp.fc1.weight", intermediate, c), load(p, "mlp.fc1.bias", intermediate),
                        load(p, "mlp.fc2.weight", c, intermediate), load(p, "mlp.fc2.bias", c));
            }
            finalLnWeight = load(root, "final_layer_norm.weight", c);
            finalLnBias = load(root, "final_layer_norm.bias", c);
            // transformers' CLIPTextConfig default projection_dim is 512; the key sits outside text_model.
            textProjection = withProjection
                    ? load(root, "text_projection.weight", config.getInt("projection_dim", 512), c) : null;
            eosTokenId = config.getInt("eos_token_id", 2);
            IGNORED_KEYS.forEach(root::ignore);
            w.requireAllUsed(source + " does not describe this checkpoint (check num_hidden_layers; a"
                    + " CLIPTextModelWithProjection's text_projection is not read by this model)");

            float[] mask = new float[maxPositions * maxPositions];
            for (int r = 0; r < maxPositions; r++) {
                for (int col = r + 1; col < maxPositions; col++) {
                    mask[r * maxPositions + col] = Float.NEGATIVE_INFINITY;
                }
            }
            causalMask = keep(manager.create(mask, new Shape(maxPositions, maxPositions)).toType(dt, false));
            scale = keep(manager.create(Math.pow(headDim, -0.5)).toType(dt, false));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * transformers reads explicit nulls as None: fatal for these sizes and constants, so refused. A full CLIPConfig
     * (model_type "clip", a nested text_config) is not a text-encoder config. Keys that only shape outputs SD does
     * not read (eos_token_id → pooler_output, projection_dim → CLIPTextModelWithProjection) or that do nothing at
     * inference (dropouts, initializers, attention implementation, dtype) are accepted.
     */
    private static void checkConfigKeys(JsonConfig config) {
        for (String k : List.of("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
                "max_position_embeddings", "vocab_size", "layer_norm_eps", "hidden_act")) {
            if (config.isNull(k)) {
                throw new ModelLoadException(config.source() + ": unsupported value null for '" + k + "'");
            }
        }
        String modelType = config.getString("model_type", "clip_text_model");
        if (!"clip_text_model".equals(modelType) || config.has("text_config")) {
            throw new ModelLoadException(config.source() + ": unsupported value '" + modelType + "' for 'model_type'"
                    + (config.has("text_config") ? " with a nested 'text_config'" : "")
                    + " (supported: clip_text_model, a CLIPTextConfig)");
        }
    }

    private static NDArray load(ParamLoader p, String key, long... shape) {
        return keep(p.get(key, shape));
    }

    /** Weights must outlive any NDScope the constructor happens to run in. */
    private static NDArray keep(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    /**
     * Runs the text encoder on {@code inputIds} ([batch, T] integer ids, T ≤ max_position_embeddings, any device).
     * Returns last_hidden_state (after final_layer_norm) and hidden_states[-2] (the input of the last layer, before
     * final_layer_norm), both [batch, T, hidden].
     */
    public Output forward(NDArray inputIds) {
        try (NDScope scope = new ForwardScope()) {
            NDList hs = run(inputIds, numLayers, false);
            NDArray penultimate = hs.get(hs.size() - 2);
            NDArray last = Ops.layerNorm(hs.get(hs.size() - 1), finalLnWeight, finalLnBias, layerNormEps);
            NDScope.unregister(last, penultimate);
            return new Output(last, penultimate);
        }
    }

    /**
     * The prompt embeddings diffusers' {@code encode_prompt} produces: {@code clipSkip} 0 (or less) gives
     * last_hidden_state; {@code clipSkip} k ≥ 1 gives final_layer_norm(hidden_states[-(k+1)]), i.e. the output of
     * layer N−k with the final layer norm applied (the layers after it are not run).
     */
    public NDArray encode(NDArray inputIds, int clipSkip) {
        return encode(inputIds, clipSkip, null);
    }

    /**
     * {@link #encode(NDArray, int)} with {@code extraRows} ([n, hidden], or null) appended to the token-embedding
     * table for this call, so that ids vocab_size … vocab_size + n − 1 look them up: diffusers'
     * {@code load_textual_inversion} (resize_token_embeddings, then the new rows set to the embedding's vectors),
     * without changing this model's weights.
     */
    public NDArray encode(NDArray inputIds, int clipSkip, NDArray extraRows) {
        int skip = Math.max(0, clipSkip);
        if (skip >= numLayers) {
            throw new IllegalArgumentException("clip skip " + clipSkip + " must be less than the text encoder's "
                    + numLayers + " layers");
        }
        try (NDScope scope = new ForwardScope()) {
            NDList hs = run(inputIds, numLayers - skip, false, extraRows);
            NDArray out = Ops.layerNorm(hs.get(hs.size() - 1), finalLnWeight, finalLnBias, layerNormEps);
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * SDXL's use of an encoder (diffusers' StableDiffusionXLPipeline.encode_prompt): {@code hidden_states[-(clipSkip +
     * 2)]} (the input of layer N−clipSkip, without final_layer_norm) and, with a projection, transformers'
     * {@code text_embeds}: {@code text_projection(last_hidden_state[b, eos_b])}, where eos_b is
     * {@code argmax(ids[b])} when the config's eos_token_id is 2 (old configs: SDXL's, whose EOS has the largest
     * id) and otherwise the first position holding eos_token_id. Reads the ids back to the host once.
     */
    public PooledOutput encodePooled(NDArray inputIds, int clipSkip) {
        return encodePooled(inputIds, clipSkip, null);
    }

    /**
     * {@link #encodePooled(NDArray, int)} with {@code extraRows} appended to the token-embedding table for this call
     * (textual inversion, see {@link #encode(NDArray, int, NDArray)}). The pooling position is found on the ids as
     * given, added ids included: with eos_token_id 2 that is argmax(ids), so a prompt holding an embedding pools at
     * its last token there, as transformers does.
     */
    public PooledOutput encodePooled(NDArray inputIds, int clipSkip, NDArray extraRows) {
        return encodePooled(inputIds, clipSkip, extraRows, inputIds);
    }

    /**
     * {@link #encodePooled(NDArray, int, NDArray)} where the token embeddings are looked up at {@code lookupIds}
     * (same shape) and the pooling position is found on {@code inputIds}: A1111's textual inversion
     * ({@code EmbeddingsWithFixes}) writes an embedding's vectors over the token embeddings of id-0 placeholders,
     * so its text encoder pools where the ids it was given say (open_clip: argmax of ids with zeros for the
     * embedding, i.e. at EOS), while the vectors come from {@code extraRows}.
     */
    public PooledOutput encodePooled(NDArray inputIds, int clipSkip, NDArray extraRows, NDArray lookupIds) {
        if (!lookupIds.getShape().equals(inputIds.getShape())) {
            throw new IllegalArgumentException("lookup ids " + lookupIds.getShape() + " must be shaped like the ids "
                    + inputIds.getShape());
        }
        int skip = Math.max(0, clipSkip);
        if (skip + 2 > numLayers + 1) {
            throw new IllegalArgumentException("clip skip " + clipSkip + " leaves no hidden state of the text encoder's "
                    + numLayers + " layers");
        }
        try (NDScope scope = new ForwardScope()) {
            NDList hs = run(lookupIds, numLayers, true, extraRows);
            NDArray hidden = hs.get(numLayers - 1 - skip);
            NDArray textEmbeds = null;
            if (textProjection != null) {
                NDArray last = Ops.layerNorm(hs.get(numLayers), finalLnWeight, finalLnBias, layerNormEps);
                long[] ids = inputIds.toType(DataType.INT64, false).toLongArray();
                long t = inputIds.getShape().get(1);
                NDList rows = new NDList();
                for (int b = 0; b < ids.length / t; b++) {
                    rows.add(last.get(b).get(eosPosition(ids, b * (int) t, (int) t)));
                }
                textEmbeds = NDArrays.stack(rows, 0).matMul(textProjection.transpose());
                NDScope.unregister(textEmbeds);
            }
            NDScope.unregister(hidden);
            return new PooledOutput(hidden, textEmbeds);
        }
    }

    /** transformers' CLIPTextTransformer pooling position of one row of ids. */
    private long eosPosition(long[] ids, int from, int t) {
        int best = 0;
        for (int i = 0; i < t; i++) {
            long id = ids[from + i];
            if (eosTokenId == 2 ? id > ids[from + best] : id == eosTokenId) {
                best = i;
                if (eosTokenId != 2) {
                    break;
                }
            }
        }
        return best;
    }

    /** The width of {@code text_embeds} (config projection_dim), or 0 without a projection. */
    public int projectionDim() {
        return textProjection == null ? 0 : (int) textProjection.getShape().get(0);
    }

    /**
     * transformers' {@code output_hidden_states}: N+1 tensors, the embeddings output first, then the output of each
     * layer (the last one before final_layer_norm). For parity checks and debugging.
     */
    public NDList hiddenStates(NDArray inputIds) {
        try (NDScope scope = new ForwardScope()) {
            NDList hs = run(inputIds, numLayers, true);
            NDScope.unregister(hs);
            return hs;
        }
    }

    /**
     * Embeddings then {@code upTo} layers. Returns all hidden states when {@code keepAll}, else the last two (the
     * embeddings output counts as one) and closes the others as it goes.
     */
    private NDList run(NDArray inputIds, int upTo, boolean keepAll) {
        return run(inputIds, upTo, keepAll, null);
    }

    private NDList run(NDArray inputIds, int upTo, boolean keepAll, NDArray extraRows) {
        Shape s = inputIds.getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("input ids must be [batch, tokens], got " + s);
        }
        int t = (int) s.get(1);
        if (t < 1 || t > maxPositions) {
            throw new IllegalArgumentException("sequence length " + t + " must be in 1.." + maxPositions
                    + " (max_position_embeddings)");
        }
        NDArray ids = inputIds.toDevice(context.device(), false);
        if (ids.getDataType() != DataType.INT64 && ids.getDataType() != DataType.INT32) {
            ids = ids.toType(DataType.INT64, false);
        }
        NDArray positions = t == maxPositions ? positionEmbedding : positionEmbedding.get("0:" + t);
        NDArray mask = t == maxPositions ? causalMask : causalMask.get("0:" + t + ", 0:" + t);

        NDArray table = tokenEmbedding;
        if (extraRows != null) {
            if (extraRows.getShape().dimension() != 2 || extraRows.getShape().get(1) != hiddenSize) {
                throw new IllegalArgumentException("extra embedding rows must be [n, " + hiddenSize + "], got "
                        + extraRows.getShape());
            }
            table = tokenEmbedding.concat(extraRows.toDevice(context.device(), false)
                    .toType(tokenEmbedding.getDataType(), false), 0);
        }
        NDArray h = Embedding.embedding(ids, table, SparseFormat.DENSE).singletonOrThrow().add(positions);
        List<NDArray> states = new ArrayList<>();
        states.add(h);
        for (int i = 0; i < upTo; i++) {
            NDArray next = layer(layers[i], h, mask);
            if (!keepAll && states.size() == 2) {
                states.remove(0).close();
            }
            states.add(next);
            h = next;
        }
        return new NDList(states);
    }

    private NDArray layer(Layer l, NDArray x, NDArray mask) {
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        NDArray n1 = Ops.layerNorm(x, l.ln1W, l.ln1B, layerNormEps);
        // [B, T, C] -> [B, H, T, D]; keys straight to [B, H, D, T]
        NDArray q = Ops.linear(n1, l.qW, l.qB).reshape(b, t, numHeads, headDim).transpose(0, 2, 1, 3);
        NDArray k = Ops.linear(n1, l.kW, l.kB).reshape(b, t, numHeads, headDim).transpose(0, 2, 3, 1);
        NDArray v = Ops.linear(n1, l.vW, l.vB).reshape(b, t, numHeads, headDim).transpose(0, 2, 1, 3);
        NDArray scores = q.matMul(k).mul(scale).add(mask);
        NDArray probs;
        if (scores.getDataType() == DataType.FLOAT16) {
            // transformers' eager attention: softmax in fp32, back to the query's dtype
            probs = scores.toType(DataType.FLOAT32, false).softmax(-1).toType(DataType.FLOAT16, false);
        } else {
            probs = scores.softmax(-1);
        }
        NDArray attn = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, hiddenSize);
        NDArray h = x.add(Ops.linear(attn, l.outW, l.outB));

        NDArray n2 = Ops.layerNorm(h, l.ln2W, l.ln2B, layerNormEps);
        NDArray f = Ops.linear(n2, l.fc1W, l.fc1B);
        f = quickGelu ? Ops.quickGelu(f) : Ops.gelu(f);
        return h.add(Ops.linear(f, l.fc2W, l.fc2B));
    }

    public ComputeContext context() {
        return context;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    public int numLayers() {
        return numLayers;
    }

    /** The longest token sequence the position embeddings cover (77 for SD). */
    public int maxPositionEmbeddings() {
        return maxPositions;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public String hiddenAct() {
        return quickGelu ? "quick_gelu" : "gelu";
    }

    /** Bytes of the weights this model holds (for memory planning). */
    public long weightBytes() {
        return dev.sdcfg.runtime.MemoryBudget.bytesOf(manager);
    }

    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return "ClipTextModel[" + source + ", " + numLayers + " layers, hidden " + hiddenSize + ", " + numHeads
                + " heads, " + hiddenAct() + ", " + context + "]";
    }
}
