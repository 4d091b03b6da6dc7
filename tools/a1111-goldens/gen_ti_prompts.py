"""Goldens for AUTOMATIC1111's textual-inversion embeddings in its own prompt path: the embeddings of OUT_DIR/ti
(written here, seeded) loaded and registered by A1111's EmbeddingDatabase (modules/textual_inversion/
textual_inversion.py: load_from_file, register_embedding_by_name -- ids_lookup keyed by the name's first token id,
longest name first), found by find_embedding_at_position in FrozenCLIPEmbedderWithCustomWords.tokenize_line (an
embedding is never split across a 75-token chunk: if it does not fit the chunk is padded and closed first; its
vectors count emb_len positions at the weight of the text around it; PromptChunk.fixes record (offset, embedding))
and written over the token embeddings by sd_hijack.EmbeddingsWithFixes.forward wrapped around the text encoder's
token_embedding.  The A1111 sources are an excerpt module (see README.md) next to the shim of make_shim.sh.

usage: PYTHONPATH=A1111_SHIM:TI_EXCERPT_DIR:TRANSFORMERS_SHIM:DIFFUSERS_SHIM:LARK OMP_NUM_THREADS=1 \
       python gen_ti_prompts.py MODEL_DIR OUT_DIR

OUT_DIR/ti/*.safetensors (the embeddings), OUT_DIR/ti/golden.safetensors + notes.json; per run <tag>:

    <tag>.tokens        int64 [k, 77]   the chunks' ids (0 where an embedding's vectors go, as A1111 writes them)
    <tag>.multipliers   float32 [k, 77]
    <tag>.f64.z / .f32.z  [1, 77k, C]   forward([prompt]) with the model in float64 / float32
    overlay.final_layer_norm.{weight,bias}  as gen_prompts.py's (the same seeded pair)
notes.json: per run the prompt, clip skip, chunk count, token count and every chunk's fixes [[offset, name], ...].
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_prompts import Wrapped, text_encoders, write_golden  # noqa: E402
from gen_unet import rel_l2  # noqa: E402

import a1111_ti_excerpt as ti  # noqa: E402
from modules import sd_hijack, sd_hijack_clip  # noqa: E402
from modules.shared import opts  # noqa: E402

C = 32  # the random model's hidden size


def embedding_files(d):
    """The embeddings, one per format the loader reads: A1111's emb_params and string_to_param, a diffusers
    <token> vector, and float16 values (A1111 casts every embedding to float32)."""
    gen = torch.Generator().manual_seed(1605)
    files = {
        "neon": {"emb_params": 0.5 * torch.randn(1, C, generator=gen)},
        "neon city": {"string_to_param.*": 0.5 * torch.randn(3, C, generator=gen)},
        "Tiny-Glow": {"<Tiny-Glow>": 0.5 * torch.randn(C, generator=gen)},
        "starfield": {"emb_params": (0.5 * torch.randn(5, C, generator=gen)).to(torch.float16)},
    }
    os.makedirs(d, exist_ok=True)
    for name, tensors in files.items():
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, name + ".safetensors"))
    return sorted(n + ".safetensors" for n in files)


CAT72 = " ".join(["cat"] * 72)
TEXT_CASES = [
    # one-vector names; "tiny-glow" matches Tiny-Glow because the tokenizer lowercases; inside words nothing matches
    dict(tag="single", prompt="a neon sign, tiny-glow street, neoncity neon-city neons", skip=1),
    # the longest name at a position first ("neon city" before "neon"), weights on embeddings and nesting
    dict(tag="weighted", prompt="(neon city:1.3) at night, neon lights, [starfield], ((tiny-glow)), (neon:0)",
         skip=1),
    # 72 tokens, then starfield's 5 vectors do not fit: the chunk is padded and closed, they start chunk 2
    dict(tag="straddle", prompt=CAT72 + " starfield, (neon city:1.2) dog", skip=1),
    # starfield fits (positions 71..75), then "dog" at a full chunk moves everything after the last comma to the
    # next chunk (comma_padding_backtrack) -- the zeros move, the fix stays with chunk 1 (A1111 does exactly this)
    dict(tag="backtrack", prompt=" ".join(["cat"] * 60) + ", " + " ".join(["cat"] * 9) + " starfield dog neon",
         skip=1),
    # a negative prompt as A1111 encodes it (the same forward), with a weighted embedding
    dict(tag="negative", prompt="lowres, (tiny-glow:0.8), blurry, neon city, [neon]", skip=1),
    # BREAK before an embedding; clip skip 2
    dict(tag="break_skip2", prompt="neon BREAK (starfield:1.2) over tiny-glow", skip=2),
]


def main():
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    d = os.path.join(out_dir, "ti")
    files = embedding_files(d)
    m32, m64, state, tok = text_encoders(model_dir)

    golden = {"overlay.final_layer_norm.weight": state["final_layer_norm.weight"],
              "overlay.final_layer_norm.bias": state["final_layer_norm.bias"]}
    runs = []
    for case in TEXT_CASES:
        opts.CLIP_stop_at_last_layers = case["skip"]
        tag = case["tag"]
        info = {"tag": tag, "prompt": case["prompt"], "CLIP_stop_at_last_layers": case["skip"]}
        for key, model in (("f64", m64), ("f32", m32)):
            hijack = sd_hijack.StableDiffusionModelHijack()
            hijack.embedding_db = ti.EmbeddingDatabase()
            emb = model.text_model.embeddings
            plain = emb.token_embedding
            emb.token_embedding = ti.EmbeddingsWithFixes(plain, hijack)
            embedder = sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords(Wrapped(tok, model), hijack)
            # register_embedding_by_name tokenizes the name with shared.sd_model.cond_stage_model.tokenize
            ti.shared.sd_model = type("SdModel", (), {"cond_stage_model": embedder})()
            for fn in files:
                hijack.embedding_db.load_from_file(os.path.join(d, fn), fn)
            assert len(hijack.embedding_db.word_embeddings) == len(files)
            chunks, token_count = embedder.tokenize_line(case["prompt"])
            with torch.no_grad():
                z = embedder([case["prompt"]])
            emb.token_embedding = plain
            golden["%s.%s.z" % (tag, key)] = z
            golden[tag + ".tokens"] = torch.asarray([c.tokens for c in chunks]).to(torch.int64)
            golden[tag + ".multipliers"] = torch.asarray([c.multipliers for c in chunks])
            assert z.shape[1] == 77 * len(chunks), z.shape
            info["chunks"] = len(chunks)
            info["token_count"] = token_count
            info["fixes"] = [[[f.offset, f.embedding.name] for f in c.fixes] for c in chunks]
        info["relL2_f32_vs_f64"] = rel_l2(golden[tag + ".f32.z"], golden[tag + ".f64.z"])
        runs.append(info)
        print("%-12s chunks %d tokens %3d fixes %s  f32 vs f64 %.2e" % (
            tag, info["chunks"], info["token_count"], info["fixes"], info["relL2_f32_vs_f64"]))
    notes = {
        "generator": "tools/a1111-goldens/gen_ti_prompts.py",
        "a1111_sources": "modules/prompt_parser.py, modules/sd_hijack_clip.py, modules/sd_emphasis.py; "
                         "modules/textual_inversion/textual_inversion.py EmbeddingDatabase and "
                         "modules/sd_hijack.py EmbeddingsWithFixes (excerpt, README.md)",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "model": "src/test/resources/random-model text_encoder + tokenizer",
        "embeddings": files,
        "runs": runs,
    }
    write_golden(d, golden, notes)


if __name__ == "__main__":
    main()
