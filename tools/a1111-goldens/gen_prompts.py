"""Goldens for AUTOMATIC1111's prompt handling, computed by A1111's own source (modules/prompt_parser.py,
modules/sd_hijack_clip.py, modules/sd_emphasis.py) through the shim of make_shim.sh.

usage: PYTHONPATH=A1111_SHIM:TRANSFORMERS_SHIM:DIFFUSERS_SHIM:TOKENIZERS_SITE OMP_NUM_THREADS=1 \
       /usr/bin/python3 gen_prompts.py MODEL_DIR OUT_DIR

1. OUT_DIR/attention_corpus.json: [{"prompt": p, "segments": [[text, weight], ...]} or {"prompt": p, "error":
   "ValueError"}] -- prompt_parser.parse_prompt_attention(p) for every prompt of CORPUS (weights are written with
   Python's repr, so they read back as the same doubles).
2. OUT_DIR/chunks/golden.safetensors + notes.json: FrozenCLIPEmbedderWithCustomWords (A1111's SD 1.x text
   conditioner: chunks of 75 tokens with BOS/EOS, BREAK, comma backtrack 20, weights multiplied onto z and the mean
   restored) wrapped around transformers' own CLIPTextModel (tools/clip-goldens shim) holding MODEL_DIR's
   text_encoder weights, and a tokenizer with MODEL_DIR/tokenizer/tokenizer.json (the `tokenizers` library, as
   transformers' CLIPTokenizerFast).  Per run <tag> (prompt and clip skip in notes.json):

    <tag>.tokens        int64 [k, 77]   the chunks' ids (after process_tokens' SD2 pad fix, a no-op for SD 1.x)
    <tag>.multipliers   float32 [k, 77] the chunks' weights as torch.asarray makes them
    <tag>.f64.z         float64 [1, 77k, C]  forward([prompt]) with the model in float64
    <tag>.f32.z         float32 [1, 77k, C]  the same in float32
    overlay.final_layer_norm.{weight,bias}  float32 [C]: replace the demo model's untrained final layer norm
                        (weight 1, bias 0 make z.mean() rounding noise and the mean restoration meaningless)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "unet-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "clip-goldens"))
from gen_unet import read_safetensors, rel_l2, write_safetensors  # noqa: E402
from gen_clip import _NnFloat64Softmax, _TorchFullFix  # noqa: E402

import tokenizers  # noqa: E402
import transformers  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402
from transformers.models.clip.configuration_clip import CLIPTextConfig  # noqa: E402
from transformers.models.clip.modeling_clip import CLIPTextModel  # noqa: E402

from modules import prompt_parser, sd_hijack, sd_hijack_clip  # noqa: E402
from modules.shared import opts  # noqa: E402

CORPUS = [
    # A1111's own doctests
    "normal text", "an (important) word", "(unbalanced", "\\(literal\\]", "(unnecessary)(parens)",
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
    # weights and nesting
    "(masterpiece:1.2), best quality, [blurry]", "((a))", "[[a]]", "(((a)))", "[([a])]", "([a])",
    "(a (b (c:1.5) d) e)", "a (b [c (d:1.5) e] f) g", "(a:0)", "(a:-1)", "(a:+1.5)", "(a:.5)", "(a:5.)",
    "(a:1.2)(b:1.2)", "(a:1.1) (b)", "[a] [b] c", "(a:0.9090909090909091)", "(a:1.21) ((b))",
    "(a:2) and (b:0.5)", "(a:1e3)", "(a: 1.2)", "(a :1.2)", "(a:1.2 )", "(a:b:1.2)", "(:1.2)", "(a:1.2:1.3)",
    # malformed: text, not errors
    "(a", "a)", "[a", "a]", "(a:1.2", "(a:)", "(a:x)", ")(", "][", "()", "[]", "(]", "[)", "(a]", "[a)",
    ":", "::", "a:b", "(a:b)", "a:1.2)", ":1.2)", "((a:1.2)", "(a:1.2))", "[a:1.2]", "[a:b:0.5]", "[a|b]",
    "[a:b:c]", "((a][:b:c [d:3]", "a [unbalanced", "[(a:2):3]",
    # malformed numbers: Python's float() raises (A1111 fails the generation)
    "(a:1.2.3)", "(a:.)", "(a:..)", "(a:-.)",
    # escapes
    "\\(a\\)", "\\[a\\]", "\\\\", "a\\", "\\a", "\\", "\\\\(a)", "(a\\)", "(a\\:1.2)", "\\(a:1.2)",
    "a \\(b:1.2\\) c", "((a\\))", "\\((a))",
    # BREAK
    "BREAK", "a BREAK b", "a BREAK", "BREAK a", "aBREAK b", "a BREAKb", "a break b", "a  BREAK  BREAK b",
    "(a BREAK b)", "a\nBREAK\nb", "[a BREAK b]", "a BREAK (b:1.3) BREAK c", "a,BREAK,b", "BREAK BREAK",
    "(a) BREAK (b)",
    # whitespace, unicode, empty
    "", " ", "  (a)  ", "a\nb", "\t(a)\n", "(猫:1.5), 犬", "(a:١.٥)", "(a:٢)", "(ünïcödé)", "emoji (😀:1.3)",
    "a,b,c", "(a,b:1.2)",
]

TEXT_CASES = [
    dict(tag="plain", prompt="a photo of a cat", skip=1),
    dict(tag="weighted", prompt="a (red:1.3) house, [blurry] background, ((masterful)), (ugly:0.5), (void:0)",
         skip=1),
    dict(tag="doctest", prompt="a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))). (unbalanced", skip=1),
    dict(tag="escapes", prompt="\\(literal\\) brackets \\[x\\] and a back\\\\slash: (a:b) ]", skip=1),
    dict(tag="break", prompt="a red cat BREAK (a blue dog:1.2) BREAK", skip=1),
    dict(tag="empty", prompt="", skip=1),
    dict(tag="long_commas", prompt=", ".join(
        ["masterpiece", "best quality", "(ultra detailed:1.2)", "a lone lighthouse keeper on a rocky cliff",
         "stormy sea", "dramatic clouds", "[low contrast]", "golden hour light", "volumetric fog",
         "oil painting by an old master", "intricate brushwork", "rich textures", "deep shadows",
         "highlights on the waves", "seagulls in the distance", "a small wooden boat", "weathered stone walls",
         "a warm glow from the lantern", "wind in the grass", "a narrow path down to the beach",
         "distant mountains", "(cinematic composition:1.1)", "wide angle", "sharp focus", "award winning",
         "trending on an art site", "very detailed face", "calm expression", "long coat", "hat",
         "a dog at his feet", "rain starting to fall", "reflections on wet rock"]), skip=1),
    dict(tag="long_nocomma", prompt=" ".join(["a quiet village street at dawn with cobblestones and flower boxes"]
                                              * 14), skip=1),
    dict(tag="long_weighted_skip2", prompt=", ".join(
        ["(portrait of a woman:1.3)", "freckles", "[[plain background]]", "soft light", "35mm photo",
         "film grain", "bokeh", "(detailed eyes:1.2)", "natural skin", "linen shirt", "autumn leaves",
         "(warm colors)", "shallow depth of field", "kodak portra", "golden hour", "hair blowing in the wind",
         "subtle smile", "looking at viewer", "high resolution", "masterpiece", "best quality", "ultra realistic",
         "sharp focus", "studio quality", "professional photographer", "canon", "85mm lens", "f1.8"]) +
         " BREAK (background:0.8), trees", skip=2),
]


class FastClipTokenizer:
    """Stub of what FrozenCLIPEmbedderWithCustomWords reads from transformers' CLIPTokenizer: __call__ without
    special tokens or truncation, get_vocab, bos/eos ids (tokenizers' Tokenizer on the model's tokenizer.json, i.e.
    CLIPTokenizerFast)."""

    def __init__(self, path):
        self.tok = tokenizers.Tokenizer.from_file(path)
        self.bos_token_id = self.tok.token_to_id("<|startoftext|>")
        self.eos_token_id = self.tok.token_to_id("<|endoftext|>")

    def __call__(self, texts, truncation=False, add_special_tokens=True):
        assert truncation is False
        return {"input_ids": [self.tok.encode(t, add_special_tokens=add_special_tokens).ids for t in texts]}

    def get_vocab(self):
        return self.tok.get_vocab()


class Wrapped(torch.nn.Module):
    """Stub of ldm's FrozenCLIPEmbedder: the tokenizer and the transformers CLIPTextModel."""

    def __init__(self, tokenizer, transformer):
        super().__init__()
        self.tokenizer = tokenizer
        self.transformer = transformer


def attention_corpus():
    out = []
    for p in CORPUS:
        try:
            out.append({"prompt": p, "segments": prompt_parser.parse_prompt_attention(p)})
        except Exception as e:  # noqa: BLE001 -- the error class is the golden
            out.append({"prompt": p, "error": type(e).__name__})
    return out


def text_encoders(model_dir):
    """MODEL_DIR's text encoder in float32 and float64 (with the overlaid final layer norm, see below), its state
    dict and the tokenizer stub (also gen_ti_prompts.py's)."""
    cfg = json.load(open(os.path.join(model_dir, "text_encoder", "config.json")))
    cfg = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "dtype", "transformers_version")}
    import transformers.modeling_attn_mask_utils as mask_utils
    mask_utils.torch = _TorchFullFix()
    modeling_clip.nn = _NnFloat64Softmax()
    m32 = CLIPTextModel(CLIPTextConfig(**cfg)).eval()
    state = read_safetensors(os.path.join(model_dir, "text_encoder", "model.safetensors"))
    # The demo model's final_layer_norm is untrained (weight 1, bias 0): every token vector then has mean 0 and
    # z.mean() is rounding noise, which makes A1111's mean restoration (z * original_mean / new_mean) meaningless.
    # Its scale and bias are replaced by a trained-looking pair (stored in the golden; the Java test overlays them).
    gen = torch.Generator().manual_seed(20261205)
    c = state["final_layer_norm.weight"].shape[0]
    state["final_layer_norm.weight"] = 1 + 0.1 * torch.randn(c, generator=gen)
    state["final_layer_norm.bias"] = 0.25 + 0.1 * torch.randn(c, generator=gen)
    missing, unexpected = m32.text_model.load_state_dict(state, strict=False)
    assert not missing and set(unexpected) <= {"embeddings.position_ids"}, (missing, unexpected)
    m64 = CLIPTextModel(CLIPTextConfig(**cfg)).eval()
    m64.load_state_dict(m32.state_dict())
    m64 = m64.double()
    tok = FastClipTokenizer(os.path.join(model_dir, "tokenizer", "tokenizer.json"))
    return m32, m64, state, tok


def main():
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    os.makedirs(os.path.join(out_dir, "chunks"), exist_ok=True)
    corpus = attention_corpus()
    with open(os.path.join(out_dir, "attention_corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/a1111-goldens/gen_prompts.py (A1111 modules/prompt_parser.py"
                                " parse_prompt_attention)", "cases": corpus}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("attention corpus: %d prompts, %d errors" % (len(corpus), sum("error" in c for c in corpus)))

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
            embedder = sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords(Wrapped(tok, model), hijack)
            chunks, token_count = embedder.tokenize_line(case["prompt"])
            with torch.no_grad():
                z = embedder([case["prompt"]])
            golden["%s.%s.z" % (tag, key)] = z
            tokens = torch.asarray([c.tokens for c in chunks])
            mults = torch.asarray([c.multipliers for c in chunks])
            assert tokens.shape[1] == 77 and z.shape[1] == 77 * len(chunks), (tokens.shape, z.shape)
            golden[tag + ".tokens"] = tokens.to(torch.int64)
            golden[tag + ".multipliers"] = mults
            info["chunks"] = len(chunks)
            info["token_count"] = token_count
            info["extra_generation_params"] = hijack.extra_generation_params
        info["relL2_f32_vs_f64"] = rel_l2(golden[tag + ".f32.z"], golden[tag + ".f64.z"])
        runs.append(info)
        print("%-20s chunks %d tokens %d  f32 vs f64 %.2e" % (tag, info["chunks"], info["token_count"],
                                                              info["relL2_f32_vs_f64"]))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    d = os.path.join(out_dir, "chunks")
    notes = {
        "generator": "tools/a1111-goldens/gen_prompts.py",
        "a1111_sources": "modules/prompt_parser.py, modules/sd_hijack_clip.py, modules/sd_emphasis.py (README.md)",
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "model": "src/test/resources/random-model text_encoder + tokenizer",
        "opts": {k: v for k, v in vars(opts).items() if k != "CLIP_stop_at_last_layers"},
        "softmax_note": _NnFloat64Softmax.__doc__.strip(),
        "runs": runs,
    }
    write_golden(d, golden, notes)


def write_golden(d, golden, notes):
    """d/golden.safetensors and d/notes.json (also gen_sdxl_prompts.py's)."""
    write_safetensors(golden, os.path.join(d, "golden.safetensors"), {"format": "pt"})
    with open(os.path.join(d, "notes.json"), "w", encoding="utf-8") as f:
        json.dump(notes, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print({fn: os.path.getsize(os.path.join(d, fn)) for fn in os.listdir(d)})


if __name__ == "__main__":
    main()
