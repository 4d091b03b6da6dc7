"""Goldens for AUTOMATIC1111's prompt handling on SDXL, computed by A1111's own embedders
(modules/sd_hijack_clip.py FrozenCLIPEmbedderForSDXLWithCustomWords, modules/sd_hijack_open_clip.py
FrozenOpenCLIPEmbedder2WithCustomWords, with prompt_parser.py and sd_emphasis.py) on the tiny SDXL model of
tools/sdxl-goldens.

usage: PYTHONPATH=A1111_SHIM:SDXL_SHIM:TOKENIZERS_SITE OMP_NUM_THREADS=1 \
       /usr/bin/python3 gen_sdxl_prompts.py SDXL_MODEL_DIR OUT_DIR

A1111_SHIM is make_shim.sh's output with modules/sd_hijack_open_clip.py added; SDXL_SHIM is tools/sdxl-goldens'
(transformers' CLIPTextModel and CLIPTextModelWithProjection).  Per case <tag> (prompts in notes.json):

    <tag>.tokens_1 / tokens_2   int64 [k, 77]   each embedder's chunks (embedder 2 after process_tokens' pad fix:
                                                 id 0 after the first EOS, as open_clip pads)
    <tag>.multipliers           float32 [k, 77] the chunks' weights (the same for both embedders here)
    <tag>.f64.crossattn         float64 [1, 77k, 32 + 40]  torch.cat([embedder1(p), embedder2(p)], dim=2): what
                                                 sgm's GeneralConditioner makes of the two outputs ("crossattn")
    <tag>.f64.pooled            float64 [1, 24]  embedder 2's zs[0].pooled (the "vector" part before the time ids)
    <tag>.f32.*                 the same in float32

Stubbed, infrastructure only (what sgm / open_clip would supply around A1111's code):
  * embedder 1's wrapped module (sgm's FrozenCLIPEmbedder, SDXL config layer "hidden", layer_idx 11 of CLIP-L's 12
    layers = hidden_states[-2]): the tokenizer and transformers' CLIPTextModel, layer "hidden", layer_idx -2;
  * embedder 2's wrapped module (sgm's FrozenOpenCLIPEmbedder2, layer "penultimate", always_return_pooled):
    encode_with_transformer(tokens) -> {"penultimate": hidden_states[-2], "pooled": text_embeds} of transformers'
    CLIPTextModelWithProjection (the diffusers layout of the same weights; pooling at argmax(ids) as open_clip);
  * open_clip.tokenizer._tokenizer: .encode(text) and .encoder (vocab with open_clip's names of BOS/EOS) over the
    same tokenizer as embedder 1's, built from the model's vocab.json + merges.txt exactly as transformers'
    CLIPConverter builds CLIPTokenizerFast (copied below).
"""
import json
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "unet-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "clip-goldens"))
sys.path.insert(0, HERE)
from gen_unet import read_safetensors, rel_l2  # noqa: E402
from gen_clip import _NnFloat64Softmax, _TorchFullFix  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers  # noqa: E402
from tokenizers.models import BPE  # noqa: E402
import transformers  # noqa: E402
import transformers.modeling_attn_mask_utils as mask_utils  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402
from transformers.models.clip.configuration_clip import CLIPTextConfig  # noqa: E402
from transformers.models.clip.modeling_clip import CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

CASES = [
    dict(tag="plain", prompt="a watercolor painting of a lighthouse on a cliff at dusk"),
    dict(tag="weighted", prompt="a (red:1.3) house, [blurry] background, ((masterful)), (ugly:0.5), (void:0)"),
    dict(tag="break", prompt="a red cat BREAK (a blue dog:1.2) BREAK"),
    dict(tag="empty", prompt=""),
    dict(tag="long_weighted", prompt=", ".join(
        ["(portrait of a woman:1.3)", "freckles", "[[plain background]]", "soft light", "35mm photo",
         "film grain", "bokeh", "(detailed eyes:1.2)", "natural skin", "linen shirt", "autumn leaves",
         "(warm colors)", "shallow depth of field", "golden hour", "hair blowing in the wind"]) +
         " BREAK (background:0.8), trees"),
    dict(tag="long_nocomma", prompt=" ".join(["a quiet village street at dawn with cobblestones"] * 6)),
]


def clip_tokenizer(folder):
    """transformers' CLIPConverter.converted() (convert_slow_tokenizer.py, 4.57.6) on CLIPTokenizer's reading of
    vocab.json + merges.txt (the first line, '#version', skipped); the post-processor is left out (A1111 tokenizes
    without special tokens)."""
    vocab = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
    merges = open(os.path.join(folder, "merges.txt"), encoding="utf-8").read().strip().split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                        end_of_word_suffix="</w>", fuse_unk=False, unk_token="<|endoftext|>"))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    return tok, vocab


class HfClipTokenizer:
    """What FrozenCLIPEmbedderWithCustomWords reads from transformers' CLIPTokenizer."""

    def __init__(self, tok, vocab):
        self.tok, self.vocab = tok, vocab
        self.bos_token_id = vocab["<|startoftext|>"]
        self.eos_token_id = vocab["<|endoftext|>"]

    def __call__(self, texts, truncation=False, add_special_tokens=True):
        assert truncation is False and add_special_tokens is False
        return {"input_ids": [self.tok.encode(t, add_special_tokens=False).ids for t in texts]}

    def get_vocab(self):
        return dict(self.vocab)


class OpenClipTokenizer:
    """What sd_hijack_open_clip reads from open_clip.tokenizer._tokenizer (SimpleTokenizer)."""

    def __init__(self, tok, vocab):
        self.tok = tok
        self.encoder = dict(vocab)
        self.encoder["<start_of_text>"] = vocab["<|startoftext|>"]
        self.encoder["<end_of_text>"] = vocab["<|endoftext|>"]

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids


class Wrapped1(torch.nn.Module):
    """Stub of sgm's FrozenCLIPEmbedder as SDXL configures it (layer "hidden", the penultimate hidden state)."""

    def __init__(self, tokenizer, transformer):
        super().__init__()
        self.tokenizer, self.transformer = tokenizer, transformer
        self.layer, self.layer_idx = "hidden", -2


class Wrapped2(torch.nn.Module):
    """Stub of sgm's FrozenOpenCLIPEmbedder2 (layer "penultimate", always_return_pooled)."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer
        self.layer, self.return_pooled = "penultimate", True

    def encode_with_transformer(self, tokens):
        o = self.transformer(input_ids=tokens, output_hidden_states=True)
        return {"penultimate": o.hidden_states[-2], "pooled": o.text_embeds}


def load(folder, cls):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    m = cls(CLIPTextConfig(**{k: v for k, v in cfg.items() if k not in (
        "architectures", "model_type", "torch_dtype", "transformers_version")})).eval()
    m.load_state_dict(read_safetensors(os.path.join(folder, "model.safetensors")), strict=True)
    return m


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
    golden, runs = {}, []
    for case in CASES:
        tag, p = case["tag"], case["prompt"]
        info = {"tag": tag, "prompt": p}
        for key in ("f64", "f32"):
            m1, m2 = models[key]
            hijack = sd_hijack.StableDiffusionModelHijack()
            e1 = sd_hijack_clip.FrozenCLIPEmbedderForSDXLWithCustomWords(
                Wrapped1(HfClipTokenizer(tok1, vocab1), m1), hijack)
            e2 = sd_hijack_open_clip.FrozenOpenCLIPEmbedder2WithCustomWords(Wrapped2(m2), hijack)
            with torch.no_grad():
                z1 = e1([p])
                z2, pooled = e2([p])
            golden["%s.%s.crossattn" % (tag, key)] = torch.cat([z1, z2], dim=2)  # sgm: KEY2CATDIM crossattn 2
            golden["%s.%s.pooled" % (tag, key)] = pooled
            c1, n1 = e1.tokenize_line(p)
            c2, n2 = e2.tokenize_line(p)
            t2 = torch.asarray([c.tokens for c in c2])
            for row in t2:  # process_tokens' pad fix (id_end != id_pad), as encoded
                first = row.tolist().index(e2.id_end)
                row[first + 1:] = e2.id_pad
            golden[tag + ".tokens_1"] = torch.asarray([c.tokens for c in c1]).to(torch.int64)
            golden[tag + ".tokens_2"] = t2.to(torch.int64)
            assert [c.multipliers for c in c1] == [c.multipliers for c in c2]
            golden[tag + ".multipliers"] = torch.asarray([c.multipliers for c in c1])
            info.update(chunks=len(c1), token_count=n1)
        info["relL2_f32_vs_f64"] = rel_l2(golden[tag + ".f32.crossattn"], golden[tag + ".f64.crossattn"])
        runs.append(info)
        print("%-14s chunks %d tokens %d  f32 vs f64 %.2e" % (tag, info["chunks"], info["token_count"],
                                                             info["relL2_f32_vs_f64"]))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    d = os.path.join(out_dir, "sdxl")
    os.makedirs(d, exist_ok=True)
    notes = {
        "generator": "tools/a1111-goldens/gen_sdxl_prompts.py",
        "a1111_sources": "modules/prompt_parser.py, modules/sd_hijack_clip.py, modules/sd_hijack_open_clip.py,"
                         " modules/sd_emphasis.py (README.md)",
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "model": "src/test/resources/parity-extra/sdxl/model (text_encoder, text_encoder_2, tokenizer, tokenizer_2)",
        "opts": {k: v for k, v in vars(opts).items() if not k.startswith("infotext")},
        "runs": runs,
    }
    from gen_prompts import write_golden  # after the open_clip stub: gen_prompts imports A1111's modules
    write_golden(d, golden, notes)


if __name__ == "__main__":
    main()
