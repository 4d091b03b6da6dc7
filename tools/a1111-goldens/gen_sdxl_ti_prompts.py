"""Goldens for AUTOMATIC1111's textual-inversion embeddings on SDXL: gen_ti_prompts.py's setting (A1111's
EmbeddingDatabase, tokenize_line, EmbeddingsWithFixes; see README.md for the excerpt module) with gen_sdxl_prompts.py's
two embedders on the tiny SDXL model: SDXL embeddings (clip_l + clip_g) written here, registered by the conditioner's
tokenize (its first embedder's, as sd_models_xl does), and each embedder's token_embedding wrapped in
EmbeddingsWithFixes with its textual_inversion_key ('clip_l' for FrozenCLIPEmbedderForSDXLWithCustomWords, 'clip_g'
for FrozenOpenCLIPEmbedder2WithCustomWords, as sd_hijack.hijack does).

usage: PYTHONPATH=A1111X_SHIM:TI_EXCERPT_DIR:SDXL_SHIM:TOKENIZERS_SITE:LARK OMP_NUM_THREADS=1 \
       python gen_sdxl_ti_prompts.py SDXL_MODEL_DIR OUT_DIR

OUT_DIR/ti/sdxl/*.safetensors (the embeddings), golden.safetensors + notes.json; per run <tag>: tokens_1, tokens_2
(int64 [k, 77], encoder 2's after process_tokens' pad fix), multipliers (float32 [k, 77]), <f64|f32>.crossattn
[1, 77k, C1 + C2] and <f64|f32>.pooled [1, P]; notes: per run the prompt, chunks, token count and each embedder's
fixes per chunk [[offset, name], ...].
"""
import os
import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_sdxl_prompts import (HfClipTokenizer, OpenClipTokenizer, Wrapped1, Wrapped2, clip_tokenizer,  # noqa: E402
                              load)
from gen_unet import rel_l2  # noqa: E402
import transformers.modeling_attn_mask_utils as mask_utils  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402
from transformers.models.clip.modeling_clip import CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402
from gen_clip import _NnFloat64Softmax, _TorchFullFix  # noqa: E402

import a1111_ti_excerpt as ti  # noqa: E402


def embedding_files(d, c1, c2):
    gen = torch.Generator().manual_seed(1606)
    files = {
        "neon": 1,
        "neon city": 3,
        "starfield": 5,
    }
    os.makedirs(d, exist_ok=True)
    for name, n in files.items():
        save_file({"clip_l": (0.5 * torch.randn(n, c1, generator=gen)).contiguous(),
                   "clip_g": (0.5 * torch.randn(n, c2, generator=gen)).contiguous()},
                  os.path.join(d, name + ".safetensors"))
    return sorted(n + ".safetensors" for n in files)


def main():
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    tok, vocab = clip_tokenizer(os.path.join(model_dir, "tokenizer_2"))
    open_clip = types.ModuleType("open_clip")
    open_clip.tokenizer = types.ModuleType("open_clip.tokenizer")
    open_clip.tokenizer._tokenizer = OpenClipTokenizer(tok, vocab)
    sys.modules["open_clip"], sys.modules["open_clip.tokenizer"] = open_clip, open_clip.tokenizer
    from modules import sd_hijack, sd_hijack_clip, sd_hijack_open_clip
    from modules.shared import opts
    opts.sdxl_clip_l_skip = False  # webui's default
    mask_utils.torch = _TorchFullFix()
    modeling_clip.nn = _NnFloat64Softmax()
    tok1, vocab1 = clip_tokenizer(os.path.join(model_dir, "tokenizer"))
    te1 = load(os.path.join(model_dir, "text_encoder"), CLIPTextModel)
    te2 = load(os.path.join(model_dir, "text_encoder_2"), CLIPTextModelWithProjection)
    models = {"f32": (te1, te2), "f64": (load(os.path.join(model_dir, "text_encoder"), CLIPTextModel).double(),
                                         load(os.path.join(model_dir, "text_encoder_2"),
                                              CLIPTextModelWithProjection).double())}
    d = os.path.join(out_dir, "ti", "sdxl")
    files = embedding_files(d, te1.config.hidden_size, te2.config.hidden_size)
    a = " ".join(["a"] * 72)
    assert len(tok1.encode(a, add_special_tokens=False).ids) == 72
    cases = [
        # the longest name first, weights on embeddings (pooled embeds: chunk 0 holds embeddings)
        dict(tag="weighted", prompt="(neon city:1.3) at night, neon lights, [starfield], (neon:0)"),
        # 72 tokens, then starfield's 5 vectors start chunk 2
        dict(tag="straddle", prompt=a + " starfield, (neon city:1.2) dog"),
    ]
    golden, runs = {}, []
    for case in cases:
        tag, p = case["tag"], case["prompt"]
        info = {"tag": tag, "prompt": p}
        for key in ("f64", "f32"):
            m1, m2 = models[key]
            hijack = sd_hijack.StableDiffusionModelHijack()
            hijack.embedding_db = ti.EmbeddingDatabase()
            plain1, plain2 = m1.text_model.embeddings.token_embedding, m2.text_model.embeddings.token_embedding
            m1.text_model.embeddings.token_embedding = ti.EmbeddingsWithFixes(plain1, hijack)
            m2.text_model.embeddings.token_embedding = ti.EmbeddingsWithFixes(plain2, hijack,
                                                                              textual_inversion_key='clip_g')
            e1 = sd_hijack_clip.FrozenCLIPEmbedderForSDXLWithCustomWords(
                Wrapped1(HfClipTokenizer(tok1, vocab1), m1), hijack)
            e2 = sd_hijack_open_clip.FrozenOpenCLIPEmbedder2WithCustomWords(Wrapped2(m2), hijack)
            # sd_models_xl: the conditioner's tokenize is its first embedder's that has one
            ti.shared.sd_model = type("SdModel", (), {"cond_stage_model": e1})()
            for fn in files:
                hijack.embedding_db.load_from_file(os.path.join(d, fn), fn)
            assert len(hijack.embedding_db.word_embeddings) == len(files)
            with torch.no_grad():
                z1 = e1([p])
                z2, pooled = e2([p])
            m1.text_model.embeddings.token_embedding, m2.text_model.embeddings.token_embedding = plain1, plain2
            golden["%s.%s.crossattn" % (tag, key)] = torch.cat([z1, z2], dim=2)
            golden["%s.%s.pooled" % (tag, key)] = pooled
            c1, n1 = e1.tokenize_line(p)
            c2, n2 = e2.tokenize_line(p)
            t2 = torch.asarray([c.tokens for c in c2])
            for row in t2:
                first = row.tolist().index(e2.id_end)
                row[first + 1:] = e2.id_pad
            golden[tag + ".tokens_1"] = torch.asarray([c.tokens for c in c1]).to(torch.int64)
            golden[tag + ".tokens_2"] = t2.to(torch.int64)
            assert [c.multipliers for c in c1] == [c.multipliers for c in c2]
            golden[tag + ".multipliers"] = torch.asarray([c.multipliers for c in c1])
            info.update(chunks=len(c1), token_count=n1,
                        fixes_1=[[[f.offset, f.embedding.name] for f in c.fixes] for c in c1],
                        fixes_2=[[[f.offset, f.embedding.name] for f in c.fixes] for c in c2])
        info["relL2_f32_vs_f64"] = rel_l2(golden[tag + ".f32.crossattn"], golden[tag + ".f64.crossattn"])
        runs.append(info)
        print("%-10s chunks %d tokens %d fixes %s / %s  f32 vs f64 %.2e" % (
            tag, info["chunks"], info["token_count"], info["fixes_1"], info["fixes_2"], info["relL2_f32_vs_f64"]))
    notes = {
        "generator": "tools/a1111-goldens/gen_sdxl_ti_prompts.py",
        "a1111_sources": "gen_sdxl_prompts.py's and gen_ti_prompts.py's (README.md)",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "model": "src/test/resources/parity-extra/sdxl/model (text_encoder, text_encoder_2, tokenizer, tokenizer_2)",
        "embeddings": files,
        "runs": runs,
    }
    from gen_prompts import write_golden  # after the open_clip stub: gen_prompts imports A1111's modules
    write_golden(d, golden, notes)


if __name__ == "__main__":
    main()
