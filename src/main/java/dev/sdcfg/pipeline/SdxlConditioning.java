package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.model.ti.TextualInversionTokens;
import dev.sdcfg.model.ModelFolder;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.unet.UNetConfig;
import dev.sdcfg.pipeline.prompt.PromptChunker;
import dev.sdcfg.pipeline.prompt.WeightedPromptEncoder;

import java.util.List;

/**
 * The text side of diffusers' {@code StableDiffusionXLPipeline} (pipelines/stable_diffusion_xl/
 * pipeline_stable_diffusion_xl.py: {@code encode_prompt}, {@code _get_add_time_ids}): two CLIP text encoders whose
 * {@code hidden_states[-(clip_skip + 2)]} are concatenated along the channels, the pooled, projected
 * {@code text_embeds} of the second, and the six "micro-conditioning" time ids. The UNet receives the pooled
 * embeds and the time ids as its text_time added conditioning ({@link TextTime}).
 *
 * <p>Owns the second tokenizer and text encoder; the first pair belongs to the pipeline (it is the same
 * CLIPTextModel as SD 1.x's). One thread at a time (the worker's).
 */
final class SdxlConditioning implements AutoCloseable {

    /** SDXL's added conditioning of one side of the CFG pair: [B, projection_dim] and [B, 6], model dtype. */
    record TextTime(NDArray textEmbeds, NDArray timeIds) {
        /** The CFG pair as one batch (unconditional first, as the prompt embeddings). */
        static TextTime pair(TextTime uncond, TextTime cond) {
            return new TextTime(NDArrays.concat(new NDList(uncond.textEmbeds, cond.textEmbeds), 0),
                    NDArrays.concat(new NDList(uncond.timeIds, cond.timeIds), 0));
        }
    }

    /** Prompt embeddings [1, 77, C1 + C2] and their added conditioning. */
    record Encoded(NDArray embeds, TextTime added) {
    }

    private final ClipTokenizer tokenizer2;
    private final ClipTextModel textEncoder2;
    private final boolean forceZerosForEmptyPrompt;
    /** A1111's second embedder chunks with its own tokenizer (pads with id 0 after the first EOS, as open_clip). */
    private final PromptChunker chunker2;

    SdxlConditioning(ClipTokenizer tokenizer2, ClipTextModel textEncoder2, boolean forceZerosForEmptyPrompt) {
        if (textEncoder2.projectionDim() <= 0) {
            throw new IllegalArgumentException("text_encoder_2 must be a CLIPTextModelWithProjection");
        }
        this.tokenizer2 = tokenizer2;
        this.textEncoder2 = textEncoder2;
        this.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
        this.chunker2 = new PromptChunker(tokenizer2);
    }

    /**
     * The components must fit as StableDiffusionXLPipeline uses them: the UNet attends to the two encoders'
     * concatenated widths, and its add_embedding takes text_encoder_2's projection_dim plus six time sinusoids
     * (diffusers checks the latter in {@code _get_add_time_ids}, mid-generation).
     */
    static void checkComponentsFit(ClipTokenizer tokenizer, ClipTextModel textEncoder, ClipTokenizer tokenizer2,
                                   ClipTextModel textEncoder2, UNetConfig u) {
        UNetConfig.TextTimeConfig add = u.addition();
        if (add == null) {
            throw new ModelLoadException(u.source() + ": an SDXL UNet needs 'addition_embed_type' \"text_time\"");
        }
        int width = textEncoder.hiddenSize() + textEncoder2.hiddenSize();
        if (u.contextDim() != width) {
            throw new ModelLoadException(u.source() + ": 'cross_attention_dim' " + u.contextDim() + " does not match"
                    + " the two text encoders' 'hidden_size' " + textEncoder.hiddenSize() + " + "
                    + textEncoder2.hiddenSize());
        }
        if (add.textEmbedsDim() != textEncoder2.projectionDim()) {
            throw new ModelLoadException(u.source() + ": 'projection_class_embeddings_input_dim' " + add.inputDim()
                    + " must be text_encoder_2's 'projection_dim' " + textEncoder2.projectionDim()
                    + " + 6 x 'addition_time_embed_dim' " + add.timeEmbedDim());
        }
        for (ClipTokenizer t : List.of(tokenizer, tokenizer2)) {
            if (t.maxLength() != tokenizer.maxLength()) {
                throw new ModelLoadException(tokenizer2.source() + ": the tokenizers' lengths differ ("
                        + tokenizer.maxLength() + ", " + tokenizer2.maxLength() + ")");
            }
        }
        if (tokenizer2.maxLength() > textEncoder2.maxPositionEmbeddings()) {
            throw new ModelLoadException(tokenizer2.source() + ": the tokenizer's length " + tokenizer2.maxLength()
                    + " exceeds " + ModelFolder.TEXT_ENCODER_2 + "'s 'max_position_embeddings' "
                    + textEncoder2.maxPositionEmbeddings());
        }
    }

    ClipTextModel textEncoder2() {
        return textEncoder2;
    }

    ClipTokenizer tokenizer2() {
        return tokenizer2;
    }

    boolean forceZerosForEmptyPrompt() {
        return forceZerosForEmptyPrompt;
    }

    /**
     * encode_prompt for one text: each tokenizer's ids through its encoder, {@code hidden_states[-(clipSkip + 2)]}
     * of both concatenated, text_embeds of encoder 2; then the time ids. diffusers encodes the negative prompt with
     * {@code hidden_states[-2]} whatever clip_skip is, so the caller passes 0 for it.
     */
    Encoded encode(String text, ClipTokenizer tokenizer, ClipTextModel textEncoder, int clipSkip,
                   SizeConditions sizes, NDManager into) {
        return encode(text, tokenizer, textEncoder, clipSkip, sizes, into, null);
    }

    /**
     * {@link #encode(String, ClipTokenizer, ClipTextModel, int, SizeConditions, NDManager)} with textual-inversion
     * tokens per encoder ({@code ti[0]} clip_l for the first, {@code ti[1]} clip_g for text_encoder_2; null: none):
     * each tokenizer's ids after diffusers' maybe_convert_prompt, each encoder's table extended by its own vectors.
     */
    Encoded encode(String text, ClipTokenizer tokenizer, ClipTextModel textEncoder, int clipSkip,
                   SizeConditions sizes, NDManager into, TextualInversionTokens[] ti) {
        NDArray ids1 = ti == null ? ids(tokenizer, text, into) : ids(ti[0], text, into);
        NDArray ids2 = ti == null ? ids(tokenizer2, text, into) : ids(ti[1], text, into);
        try (NDManager rows = into.newSubManager();
             ClipTextModel.PooledOutput o1 = textEncoder.encodePooled(ids1, clipSkip,
                     ti == null ? null : ti[0].extraRows(rows, textEncoder.context().dtype()))) {
            ClipTextModel.PooledOutput o2 = textEncoder2.encodePooled(ids2, clipSkip,
                    ti == null ? null : ti[1].extraRows(rows, textEncoder2.context().dtype()));
            NDArray embeds = NDArrays.concat(new NDList(o1.hiddenStates(), o2.hiddenStates()), -1);
            embeds.attach(into);
            o2.textEmbeds().attach(into);
            o2.hiddenStates().close();
            return new Encoded(embeds, new TextTime(o2.textEmbeds(), timeIds(sizes, into)));
        }
    }

    PromptChunker chunker2() {
        return chunker2;
    }

    /**
     * A1111's SDXL conditioning of one text (modules/sd_hijack_clip.py, sd_hijack_open_clip.py, sgm's
     * GeneralConditioner): each embedder chunks the prompt with its own tokenizer ({@code c1}, {@code c2}) and runs
     * {@code process_tokens} per chunk: {@code hidden_states[-(clipSkip + 2)]} of its encoder, weighted and
     * mean-restored on its own (so each encoder's features keep their own mean); the chunks are concatenated on
     * the sequence axis per embedder, then the two embedders' outputs along the channels. The pooled embeds are
     * encoder 2's of chunk 0 ({@code zs[0].pooled}), taken before the weighting as A1111 does.
     */
    Encoded encodeChunked(PromptChunker.Chunks c1, PromptChunker.Chunks c2, ClipTextModel textEncoder, int clipSkip,
                          SizeConditions sizes, NDManager into) {
        if (c1.size() != c2.size()) {
            // A1111's torch.cat of the two embedders would fail; SDXL's two tokenizers share one BPE vocabulary
            throw new IllegalStateException("the two tokenizers chunk the prompt differently (" + c1.size() + " and "
                    + c2.size() + " chunks)");
        }
        NDArray[] pooled = new NDArray[1];
        try (NDManager work = into.newSubManager()) {
            NDArray z1 = WeightedPromptEncoder.encode(c1, (ids, i) -> {
                ClipTextModel.PooledOutput o = encodePooled(textEncoder, c1, i, ids, clipSkip, t -> t);
                if (o.textEmbeds() != null) {
                    o.textEmbeds().close();
                }
                return o.hiddenStates();
            }, work);
            NDArray z2 = WeightedPromptEncoder.encode(c2, (ids, i) -> {
                ClipTextModel.PooledOutput o = encodePooled(textEncoder2, c2, i, ids, clipSkip,
                        TextualInversionFile::clipG);
                if (i == 0) {
                    o.textEmbeds().attach(into);
                    pooled[0] = o.textEmbeds();
                } else {
                    o.textEmbeds().close();
                }
                return o.hiddenStates();
            }, work);
            NDArray embeds = NDArrays.concat(new NDList(z1, z2), -1);
            embeds.attach(into);
            return new Encoded(embeds, new TextTime(pooled[0], timeIds(sizes, into)));
        }
    }

    /**
     * One A1111 chunk through {@code encoder}; with embeddings in it (A1111's {@code EmbeddingsWithFixes}, which
     * picks each file's table by the encoder's {@code textual_inversion_key}: {@code table}) their vectors are
     * looked up past the vocabulary while the pooling position is found on A1111's ids (zeros where the vectors go).
     */
    private static ClipTextModel.PooledOutput encodePooled(ClipTextModel encoder, PromptChunker.Chunks chunks, int i,
                                                           NDArray ids, int clipSkip,
                                                           java.util.function.UnaryOperator<TextualInversionFile> table) {
        PromptChunker.Lookup lookup = PromptChunker.lookup(chunks, i, encoder.vocabSize(), table);
        if (lookup == null) {
            return encoder.encodePooled(ids, clipSkip);
        }
        NDArray[] arrays = PromptEmbeddings.arrays(lookup, encoder, ids.getManager());
        return encoder.encodePooled(ids, clipSkip, arrays[1], arrays[0]);
    }

    /**
     * The unconditional side: zeros shaped like the prompt's (embeddings and pooled embeds) when the negative
     * prompt is absent and the model says {@code force_zeros_for_empty_prompt} (SDXL base: true); else the
     * negative prompt ("" when absent) encoded with hidden_states[-2]. The negative time ids equal the prompt's
     * (diffusers' default without negative_original_size / negative_target_size).
     */
    Encoded encodeNegative(String negative, Encoded prompt, ClipTokenizer tokenizer, ClipTextModel textEncoder,
                           SizeConditions sizes, NDManager into) {
        return encodeNegative(negative, prompt, tokenizer, textEncoder, sizes, into, null);
    }

    /** {@link #encodeNegative} with textual-inversion tokens per encoder (null: none). */
    Encoded encodeNegative(String negative, Encoded prompt, ClipTokenizer tokenizer, ClipTextModel textEncoder,
                           SizeConditions sizes, NDManager into, TextualInversionTokens[] ti) {
        if ((negative == null || negative.isEmpty()) && forceZerosForEmptyPrompt) {
            NDArray z = prompt.embeds().zerosLike();
            NDArray zp = prompt.added().textEmbeds().zerosLike();
            z.attach(into);
            zp.attach(into);
            return new Encoded(z, new TextTime(zp, timeIds(sizes, into)));
        }
        return encode(negative == null ? "" : negative, tokenizer, textEncoder, 0, sizes, into, ti);
    }

    /** [1, 6] time ids in the model dtype, as diffusers makes them ({@code torch.tensor([ids], dtype=dtype)}). */
    NDArray timeIds(SizeConditions sizes, NDManager into) {
        return into.create(sizes.timeIds(), new Shape(1, 6)).toType(textEncoder2.context().dtype(), false);
    }

    private static NDArray ids(ClipTokenizer tokenizer, String text, NDManager into) {
        long[] ids = tokenizer.encode(text).ids();
        return into.create(ids, new Shape(1, ids.length));
    }

    private static NDArray ids(TextualInversionTokens ti, String text, NDManager into) {
        long[] ids = ti.encode(text).ids();
        return into.create(ids, new Shape(1, ids.length));
    }

    @Override
    public void close() {
        textEncoder2.close();
        tokenizer2.close();
    }
}
