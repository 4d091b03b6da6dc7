"""Extra CLIP text-encoder goldens computed by transformers' own CLIPTextModel source (gelu as in SD 2.x, and a
quick_gelu config with other sizes).

usage: PYTHONPATH=SHIM_DIR /usr/bin/python3 gen_clip.py OUT_DIR [CASE ...]
(SHIM_DIR is made by tools/clip-goldens/make_shim.sh; see README.md.)

For each case: CLIPTextModel(CLIPTextConfig(**config)) (attention implementation "eager") with
torch.manual_seed(seed) and transformers' own _init_weights, then every parameter perturbed by small Gaussian noise
(tools/unet-goldens/gen_unet.py's perturb, so LayerNorm scales are not 1 and biases not 0), written as
OUT_DIR/<case>/{config.json (the keys of stabilityai/stable-diffusion-2-1's text_encoder/config.json), model.safetensors
(float32, transformers 4.x keys: "text_model." prefix)}; then each run (tag) is evaluated as an SD pipeline calls
it -- text_encoder(input_ids, output_hidden_states=True), no attention mask -- on a float64 copy and on the float32
model and written to OUT_DIR/<case>/golden.safetensors:

    <tag>.input_ids                        int64 [B, T]: BOS, tokens, EOS, then padding
    <tag>.<f64|f32>.last_hidden_state      after final_layer_norm
    <tag>.f64.hidden_states.K              output_hidden_states' K-th entry (0 = embeddings, K = output of layer K),
                                           K < num_hidden_layers (the last entry is last_hidden_state before
                                           final_layer_norm, implied by it)
    <tag>.f32.hidden_states.K              only K = num_hidden_layers - 1 (hidden_states[-2], the clip-skip input)
    <tag>.<f64|f32>.clip_skip_1            text_model.final_layer_norm(hidden_states[-2]): the prompt embeddings
                                           diffusers' encode_prompt makes for clip_skip=1
"""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unet-goldens"))
from gen_unet import perturb, read_safetensors, rel_l2, write_safetensors  # noqa: E402

import transformers  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402
from transformers.models.clip.configuration_clip import CLIPTextConfig  # noqa: E402
from transformers.models.clip.modeling_clip import CLIPTextModel  # noqa: E402

# stabilityai/stable-diffusion-2-1 text_encoder/config.json keys (values: SD 2.1's where they do not set sizes).
SD21_TEXT = dict(architectures=["CLIPTextModel"], attention_dropout=0.0, bos_token_id=0, dropout=0.0, eos_token_id=2,
                 hidden_act="gelu", initializer_factor=1.0, initializer_range=0.02, layer_norm_eps=1e-05,
                 max_position_embeddings=77, model_type="clip_text_model", pad_token_id=1, projection_dim=512,
                 torch_dtype="float32", transformers_version="4.25.0.dev0")
SIZE_KEYS = ["hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers", "vocab_size"]

CASES = {
    # SD 2.x (OpenCLIP ViT-H in CLIPTextModel): exact-erf gelu, eps 1e-5; 4 heads of 16, intermediate 2x.
    "clip_gelu": dict(
        seed=20240801,
        config=dict(SD21_TEXT, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_hidden_layers=3,
                    vocab_size=256),
        runs=[
            # SD 2.x's tokenizer pads with "!" (id 0); SD 1.x's pads with EOS: one row of each.
            dict(tag="t77_b2", rows=[dict(tokens=9, pad="zero"), dict(tokens=40, pad="eos")], length=77),
            dict(tag="t20_b1", rows=[dict(tokens=5, pad="zero")], length=20),
        ],
    ),
    # SD 1.x-style quick_gelu with other sizes: 5 heads of 16, eps 1e-6, intermediate 160, 2 layers.
    "clip_quick_gelu": dict(
        seed=20240802,
        config=dict(SD21_TEXT, hidden_act="quick_gelu", layer_norm_eps=1e-06, hidden_size=80, intermediate_size=160,
                    num_attention_heads=5, num_hidden_layers=2, vocab_size=128),
        runs=[
            dict(tag="t77_b2", rows=[dict(tokens=12, pad="eos"), dict(tokens=75, pad="zero")], length=77),
        ],
    ),
}


class _NnFloat64Softmax:
    """torch.nn, except nn.functional.softmax; installed as modeling_clip.py's `nn` (nothing else sees it).

    transformers' eager_attention_forward computes softmax(scores, dtype=torch.float32).to(query.dtype): a no-op in
    float32 but a DOWNcast of the probabilities in float64.  transformers' default on torch >= 2.1.1 is SDPA, which
    stays in the input dtype (and torch 1.13 has no SDPA).  So a float64 softmax here stays float64; float32 and
    float16 inputs are untouched (bit-for-bit the eager code)."""

    class _Functional:
        def __getattr__(self, k):
            return getattr(torch.nn.functional, k)

        @staticmethod
        def softmax(x, dim=None, dtype=None, **kw):
            if x.dtype == torch.float64 and dtype == torch.float32:
                dtype = torch.float64
            return torch.nn.functional.softmax(x, dim=dim, dtype=dtype, **kw)

    functional = _Functional()

    def __getattr__(self, k):
        return getattr(torch.nn, k)


class _TorchFullFix:
    """torch, except torch.full; installed as modeling_attn_mask_utils.py's `torch` (nothing else sees it).

    _make_causal_mask builds the mask as torch.full((T, T), torch.finfo(dtype).min).to(dtype) -- no dtype argument,
    so the tensor is first made in the default float32.  For a float64 model the fill value finfo(float64).min does
    not fit float32 and torch 1.13 raises "value cannot be converted to type float without overflow".  Here a
    dtype-less full whose value does not fit float32 is made in float64 directly, which is what the code means (the
    .to(dtype) that follows is then a no-op); float32 masks are made exactly as before."""

    def __getattr__(self, k):
        return getattr(torch, k)

    @staticmethod
    def full(size, fill_value, **kw):
        if "dtype" not in kw and isinstance(fill_value, float) and abs(fill_value) > torch.finfo(torch.float32).max:
            kw["dtype"] = torch.float64
        return torch.full(size, fill_value, **kw)


def make_ids(run, vocab, igen):
    bos, eos = vocab - 2, vocab - 1
    rows = []
    for r in run["rows"]:
        body = torch.randint(1, vocab - 2, (r["tokens"],), generator=igen).tolist()
        row = [bos] + body + [eos]
        pad = 0 if r["pad"] == "zero" else eos
        row += [pad] * (run["length"] - len(row))
        assert len(row) == run["length"]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.int64)


def run(model, ids):
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    return out.last_hidden_state, out.hidden_states


def main():
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    src_file = os.path.join(os.path.dirname(transformers.__file__), "SOURCE")
    source = open(src_file).read().strip() if os.path.exists(src_file) else "unknown"
    torch.set_num_threads(1)
    classic_nn = modeling_clip.nn
    import transformers.modeling_attn_mask_utils as mask_utils
    mask_utils.torch = _TorchFullFix()
    for name in names:
        case = CASES[name]
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(case["seed"])
        cfg_args = {k: v for k, v in case["config"].items()
                    if k not in ("architectures", "model_type", "torch_dtype", "transformers_version")}
        config = CLIPTextConfig(**cfg_args)
        assert config._attn_implementation == "eager"
        model = CLIPTextModel(config).eval()
        gen = torch.Generator().manual_seed(case["seed"] + 1)
        perturb(model, gen)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        assert all(v.dtype == torch.float32 for v in state.values()) and all(
            k.startswith("text_model.") for k in state)
        write_safetensors(state, os.path.join(d, "model.safetensors"), {"format": "pt"})
        back = read_safetensors(os.path.join(d, "model.safetensors"))
        assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(dict(sorted(case["config"].items())), f, indent=2)
            f.write("\n")

        m32 = model
        m64 = copy.deepcopy(model).double()
        n_layers = config.num_hidden_layers
        golden = {}
        notes_runs = []
        igen = torch.Generator().manual_seed(case["seed"] + 2)
        for r in case["runs"]:
            tag = r["tag"]
            ids = make_ids(r, config.vocab_size, igen)
            golden[tag + ".input_ids"] = ids
            info = {"tag": tag, "input_ids": ids.tolist()}
            modeling_clip.nn = _NnFloat64Softmax()
            try:
                for dtype, m, key in ((torch.float64, m64, "f64"), (torch.float32, m32, "f32")):
                    last, hs = run(m, ids)
                    assert len(hs) == n_layers + 1 and last.dtype == dtype
                    golden["%s.%s.last_hidden_state" % (tag, key)] = last
                    for k in range(n_layers):
                        if key == "f64" or k == n_layers - 1:
                            golden["%s.%s.hidden_states.%d" % (tag, key, k)] = hs[k]
                    with torch.no_grad():  # diffusers' encode_prompt, clip_skip=1
                        golden["%s.%s.clip_skip_1" % (tag, key)] = m.text_model.final_layer_norm(hs[-2])
                    info[key + "_last_rms"] = last.pow(2).mean().sqrt().item()
            finally:
                modeling_clip.nn = classic_nn
            last_classic, _ = run(m64, ids)
            last_eager32, _ = run(m32, ids)
            assert torch.equal(last_eager32, golden[tag + ".f32.last_hidden_state"]), "proxy changed float32 math"
            info["relL2_f32_vs_f64_last"] = rel_l2(golden[tag + ".f32.last_hidden_state"],
                                                   golden[tag + ".f64.last_hidden_state"])
            info["relL2_f64_eager_float32_softmax_vs_f64_last"] = rel_l2(last_classic,
                                                                        golden[tag + ".f64.last_hidden_state"])
            notes_runs.append(info)
            print("%-16s %-8s ids %s last rms %.4f  f32 vs f64 %.2e  eager-fp32-softmax f64 vs f64 %.2e" % (
                name, tag, list(ids.shape), info["f64_last_rms"], info["relL2_f32_vs_f64_last"],
                info["relL2_f64_eager_float32_softmax_vs_f64_last"]))
        for k, v in golden.items():
            assert not v.is_floating_point() or v.isfinite().all(), (name, k)
        write_safetensors(golden, os.path.join(d, "golden.safetensors"), {"format": "pt"})
        notes = {
            "case": name,
            "generator": "tools/clip-goldens/gen_clip.py (transformers' own CLIPTextModel source via the shim)",
            "transformers_version": transformers.__version__,
            "transformers_source": source,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "seed": case["seed"],
            "config": case["config"],
            "attn_implementation": "eager",
            "call": "model(input_ids=ids, output_hidden_states=True) (no attention_mask, as SD pipelines call it)",
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "softmax_note": _NnFloat64Softmax.__doc__.strip(),
            "causal_mask_note": _TorchFullFix.__doc__.strip(),
            "runs": notes_runs,
        }
        with open(os.path.join(d, "notes.json"), "w") as fh:
            json.dump(notes, fh, indent=2)
            fh.write("\n")
        sizes = {fn: os.path.getsize(os.path.join(d, fn)) for fn in os.listdir(d)}
        print(name, sizes, "total %.2f MB" % (sum(sizes.values()) / 1e6))


if __name__ == "__main__":
    main()
