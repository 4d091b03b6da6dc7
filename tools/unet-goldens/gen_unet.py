"""Extra UNet goldens computed by diffusers' own UNet2DConditionModel source (SD 2.x-style configs).

usage: PYTHONPATH=SHIM_DIR /usr/bin/python3 gen_unet.py OUT_DIR [CASE ...]
(SHIM_DIR is made by make_shim.sh; see README.md.)

For each case: UNet2DConditionModel(**config) with torch.manual_seed(seed) random init, then every parameter
perturbed by small Gaussian noise (so GroupNorm/LayerNorm scales are not 1 and biases not 0), written as
OUT_DIR/<case>/{config.json, diffusion_pytorch_model.safetensors (float32, diffusers keys)}; then each run (tag) of
the case is evaluated in float64 and float32 and written to OUT_DIR/<case>/golden.safetensors:

    <tag>.sample, <tag>.encoder_hidden_states   float32 inputs (the float64 run uses the same values, widened)
    <tag>.timestep                              the timestep tensor as passed (int64, float32 or float64; 0-dim, [1] or [B])
    <tag>.f64.out / <tag>.f32.out               UNet output
    <tag>.f64.<module> / <tag>.f32.<module>     intermediates (forward hooks): time_proj (cast to the run dtype, as
                                                the UNet does), time_embedding, conv_in, down_blocks.K (hidden
                                                states), mid_block, up_blocks.K, conv_norm_out (GroupNorm, before
                                                SiLU), conv_out
"""
import copy
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402  (tools/safetensors_io.py)

import diffusers

from diffusers.models.attention_processor import Attention, AttnProcessor
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

SD2_BASE = dict(
    sample_size=[12, 20],
    in_channels=4,
    out_channels=4,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[16, 24, 32],
    layers_per_block=2,
    attention_head_dim=[2, 3, 4],  # legacy meaning: heads per block (head dims 8, 8, 8, like SD 2.x's 64, 64, 64)
    cross_attention_dim=32,
    norm_num_groups=8,
    use_linear_projection=True,
    upcast_attention=False,
)

# The keys of stabilityai/stable-diffusion-2-1's unet/config.json.
SD21_KEYS = ["act_fn", "attention_head_dim", "block_out_channels", "center_input_sample", "cross_attention_dim",
             "down_block_types", "downsample_padding", "dual_cross_attention", "flip_sin_to_cos", "freq_shift",
             "in_channels", "layers_per_block", "mid_block_scale_factor", "norm_eps", "norm_num_groups",
             "num_class_embeds", "only_cross_attention", "out_channels", "sample_size", "up_block_types",
             "use_linear_projection", "upcast_attention"]

CASES = {
    # SD 2.x base (512) style: linear projections, list-valued attention_head_dim, no upcast, int timesteps.
    "sd2_base": dict(
        seed=20240601,
        config=dict(SD2_BASE),
        runs=[
            dict(tag="r12x20_t999", hw=(12, 20), tokens=7, timestep=("i64", 999)),
            dict(tag="r9x13_t1", hw=(9, 13), tokens=5, timestep=("i64", 1)),
            dict(tag="r9x13_tb", hw=(9, 13), tokens=5, timestep=("i64", [981, 20])),
            dict(tag="r9x13_b1", hw=(9, 13), tokens=5, timestep=("i64", [1]), batch=1),
        ],
    ),
    # SD 2.x 768-v style: upcast_attention true, float timesteps; config.json written with exactly the keys of
    # stabilityai/stable-diffusion-2-1's unet/config.json (diffusers 0.10 era), the rest left to defaults.
    "sd2_v": dict(
        seed=20240602,
        config_keys=SD21_KEYS,
        diffusers_version="0.10.0.dev0",
        config=dict(SD2_BASE, upcast_attention=True, attention_head_dim=[4, 3, 2], sample_size=[10, 14]),
        runs=[
            dict(tag="r10x14_t642p5", hw=(10, 14), tokens=6, timestep=("f32", 642.5)),
            dict(tag="r11x7_tb", hw=(11, 7), tokens=6, timestep=("f32", [999.0, 0.25])),
            dict(tag="r10x14_t333d", hw=(10, 14), tokens=6, timestep=("f64", 333.3333333333333)),
        ],
    ),
    # Time/resnet knobs: scale_shift resnets, flip_sin_to_cos false + freq_shift 1, centred input, 2 transformer
    # layers per block, per-block layers_per_block, mid_block_scale_factor, list-valued cross_attention_dim.
    "sd2_scale_shift": dict(
        seed=20240603,
        config=dict(
            SD2_BASE,
            resnet_time_scale_shift="scale_shift",
            flip_sin_to_cos=False,
            freq_shift=1,
            center_input_sample=True,
            transformer_layers_per_block=2,
            layers_per_block=[2, 1, 1],
            mid_block_scale_factor=1.4142135623730951,
            cross_attention_dim=[32, 32, 32],
            upcast_attention=True,
            block_out_channels=[16, 16, 32],
            attention_head_dim=[2, 2, 4],
        ),
        runs=[
            dict(tag="r8x12_t500", hw=(8, 12), tokens=4, timestep=("i64", 500)),
            dict(tag="r9x13_t37p5", hw=(9, 13), tokens=4, timestep=("f32", 37.5)),
        ],
    ),
    # Structure knobs: no mid block, 1x1 conv_in / 5x5 conv_out, downsample_padding 0, DownBlock2D first, conv
    # (not linear) projections, time_embedding_dim, norm_eps, per-block transformer layers, act_fn swish.
    "sd2_structure": dict(
        seed=20240604,
        config=dict(
            SD2_BASE,
            down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
            mid_block_type=None,
            conv_in_kernel=1,
            conv_out_kernel=5,
            downsample_padding=0,
            use_linear_projection=False,
            time_embedding_dim=40,
            norm_eps=1e-6,
            transformer_layers_per_block=[1, 1, 2],
            act_fn="swish",
            attention_head_dim=[2, 2, 4],
            block_out_channels=[16, 24, 24],
        ),
        runs=[
            dict(tag="r12x20_t999", hw=(12, 20), tokens=7, timestep=("i64", 999)),
            dict(tag="r7x10_t250", hw=(7, 10), tokens=3, timestep=("i64", 250)),
        ],
    ),
    # The SD 2.x layout itself: four blocks (three cross-attention + DownBlock2D), three downsamplers, so odd
    # latents take skip-sized upsampling at three levels; upcast attention (768-v), 77 tokens.
    "sd2_4block": dict(
        seed=20240605,
        config=dict(
            SD2_BASE,
            down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            block_out_channels=[16, 16, 24, 24],
            attention_head_dim=[2, 2, 3, 3],
            upcast_attention=True,
            sample_size=16,
        ),
        runs=[
            dict(tag="r16x24_t999", hw=(16, 24), tokens=77, timestep=("i64", 999)),
            dict(tag="r9x13_t500", hw=(9, 13), tokens=77, timestep=("i64", 500)),
            dict(tag="r13x6_tb", hw=(13, 6), tokens=4, timestep=("f32", [10.0, 1.5])),
        ],
    ),
}

BATCH = 2
RECORD = ["time_proj", "time_embedding", "conv_in", "mid_block", "conv_norm_out", "conv_out"]


def perturb(model, gen):
    """Small Gaussian noise on every parameter: N(0, 0.1) on norm scales, N(0, 0.05) on biases, 10% of the
    tensor's std (at least 0.01) on other weights."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and name.endswith(".bias"):
                s = 0.05
            elif p.dim() == 1:
                s = 0.1
            else:
                s = max(0.1 * p.std().item(), 0.01)
            p.add_(s * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def to_jsonable(v):
    if isinstance(v, tuple):
        return [to_jsonable(x) for x in v]
    if isinstance(v, list):
        return [to_jsonable(x) for x in v]
    return v


def write_config(model, path, keys=None, version=None):
    """All of the model's config (as diffusers' save_config writes it), or only `keys`; in that case diffusers
    building the model from the written file must arrive at the same config (checked)."""
    cfg = {"_class_name": "UNet2DConditionModel", "_diffusers_version": version or diffusers.__version__}
    for k, v in sorted(model.config.items()):
        if keys is None or k in keys:
            cfg[k] = to_jsonable(v)
    if keys is not None:
        assert set(keys) <= set(cfg), set(keys) - set(cfg)
        rebuilt = UNet2DConditionModel(**{k: v for k, v in cfg.items() if not k.startswith("_")})
        full = {k: to_jsonable(v) for k, v in model.config.items()}
        assert {k: to_jsonable(v) for k, v in rebuilt.config.items()} == full, "config keys do not determine the model"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def make_timestep(spec):
    kind, v = spec
    dt = {"i64": torch.int64, "f32": torch.float32, "f64": torch.float64}[kind]
    return torch.tensor(v, dtype=dt)


def run(model, sample, timestep, ehs, dtype, extra_record=(), **forward_kwargs):
    """One forward with the RECORD modules (and extra_record), down and up blocks hooked; forward_kwargs go to the
    model (tools/sdxl-goldens passes added_cond_kwargs)."""
    rec = {}
    hooks = []

    def hook(name):
        def fn(mod, inp, out):
            o = out[0] if isinstance(out, tuple) else out
            rec[name] = o.detach().clone()
        return fn

    for name in RECORD + list(extra_record):
        mod = getattr(model, name, None)
        if mod is not None:
            hooks.append(mod.register_forward_hook(hook(name)))
    for i, b in enumerate(model.down_blocks):
        hooks.append(b.register_forward_hook(hook("down_blocks.%d" % i)))
    for i, b in enumerate(model.up_blocks):
        hooks.append(b.register_forward_hook(hook("up_blocks.%d" % i)))
    try:
        with torch.no_grad():
            out = model(sample.to(dtype), timestep, ehs.to(dtype), return_dict=False, **forward_kwargs)[0]
    finally:
        for h in hooks:
            h.remove()
    rec["time_proj"] = rec["time_proj"].to(dtype)  # the UNet casts the fp32 sinusoid to the model dtype
    return out, rec


def sdpa_semantics(model):
    """torch 2.x diffusers runs these Attention modules with AttnProcessor2_0 (F.scaled_dot_product_attention),
    which ignores `upcast_attention`; on torch 1.13 they get the classic AttnProcessor, whose upcast casts query and
    key to float32 -- a no-op in float32 but a DOWNcast in float64. So the float64 run turns the flag off on the
    modules (nothing else changes; the float32 math is identical either way)."""
    n = 0
    for m in model.modules():
        if isinstance(m, Attention):
            assert type(m.processor) is AttnProcessor, type(m.processor)
            if m.upcast_attention:
                m.upcast_attention = False
                n += 1
    return n


class _TorchBaddbmmFix:
    """torch, except for two functions; installed as attention_processor.py's `torch` (nothing else sees it).

    The classic AttnProcessor computes scores as baddbmm(torch.empty(...), q, k^T, beta=0, alpha=scale).  Debian's
    torch 1.13.1 CPU baddbmm with beta=0 is broken: for small batched matrices it returns NaN at random (measured:
    the same finite fp32 q [8,12,8], k [8,4,8] gave NaN scores in 100 of 200 identical calls, even with a zero
    `input`; with beta=1 never).  torch 2.x (and SDPA) does not have this.  So here `empty` gives zeros and a beta=0
    baddbmm on an all-zero input runs as beta=1: 1*0 + alpha*q k^T, which is bit-for-bit alpha*q k^T, i.e. what
    beta=0 means."""

    def __getattr__(self, k):
        return getattr(torch, k)

    @staticmethod
    def empty(*a, **k):
        return torch.zeros(*a, **k)

    @staticmethod
    def baddbmm(inp, b1, b2, *, beta=1, alpha=1):
        if beta == 0:
            assert not inp.any(), "beta=0 baddbmm on a non-zero input"
            beta = 1
        return torch.baddbmm(inp, b1, b2, beta=beta, alpha=alpha)


def rel_l2(a, b):
    a = a.double()
    b = b.double()
    return ((a - b).norm() / b.norm()).item()


def main():
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    rev_file = os.path.join(os.path.dirname(diffusers.__file__), "REVISION")
    revision = open(rev_file).read().strip() if os.path.exists(rev_file) else "unknown"
    torch.set_num_threads(1)
    import diffusers.models.attention_processor as ap
    ap.torch = _TorchBaddbmmFix()
    for name in names:
        case = CASES[name]
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(case["seed"])
        model = UNet2DConditionModel(**case["config"]).eval()
        gen = torch.Generator().manual_seed(case["seed"] + 1)
        perturb(model, gen)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        assert all(v.dtype == torch.float32 for v in state.values())
        write_safetensors(state, os.path.join(d, "diffusion_pytorch_model.safetensors"),
                          {"format": "pt"})
        write_config(model, os.path.join(d, "config.json"), case.get("config_keys"), case.get("diffusers_version"))
        # round-trip check of our writer
        back = read_safetensors(os.path.join(d, "diffusion_pytorch_model.safetensors"))
        assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)

        m32 = model
        m64 = copy.deepcopy(model).double()
        n_off = sdpa_semantics(m64)
        m64_classic = copy.deepcopy(model).double()

        golden = {}
        notes_runs = []
        igen = torch.Generator().manual_seed(case["seed"] + 2)
        for r in case["runs"]:
            h, w = r["hw"]
            cdim = model.config.cross_attention_dim
            cdim = cdim[0] if isinstance(cdim, (list, tuple)) else cdim
            batch = r.get("batch", BATCH)
            sample = torch.randn((batch, model.config.in_channels, h, w), generator=igen, dtype=torch.float32)
            ehs = torch.randn((batch, r["tokens"], cdim), generator=igen, dtype=torch.float32)
            t = make_timestep(r["timestep"])
            tag = r["tag"]
            golden[tag + ".sample"] = sample
            golden[tag + ".encoder_hidden_states"] = ehs
            golden[tag + ".timestep"] = t
            info = {"tag": tag, "sample": list(sample.shape), "encoder_hidden_states": list(ehs.shape),
                    "timestep": {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                                 "value": t.tolist()}}
            for dtype, m, key in ((torch.float64, m64, "f64"), (torch.float32, m32, "f32")):
                out, rec = run(m, sample, t, ehs, dtype)
                golden["%s.%s.out" % (tag, key)] = out
                for k, v in rec.items():
                    golden["%s.%s.%s" % (tag, key, k)] = v
                info[key + "_out_rms"] = out.pow(2).mean().sqrt().item()
            o64 = golden[tag + ".f64.out"]
            info["relL2_f32_vs_f64"] = rel_l2(golden[tag + ".f32.out"], o64)
            if n_off:
                oc, _ = run(m64_classic, sample, t, ehs, torch.float64)
                info["relL2_f64_classic_upcast_vs_f64"] = rel_l2(oc, o64)
            notes_runs.append(info)
            print("%-16s %-14s out rms %.4f  f32 vs f64 %.2e%s" % (
                name, tag, info["f64_out_rms"], info["relL2_f32_vs_f64"],
                ("  classic-upcast f64 vs f64 %.2e" % info["relL2_f64_classic_upcast_vs_f64"]) if n_off else ""))
        for k, v in golden.items():
            assert not v.is_floating_point() or v.isfinite().all(), (name, k)
        write_safetensors(golden, os.path.join(d, "golden.safetensors"), {"format": "pt"})
        notes = {
            "case": name,
            "generator": "tools/unet-goldens/gen_unet.py (diffusers' own UNet2DConditionModel source via the shim)",
            "diffusers_version": diffusers.__version__,
            "diffusers_revision": revision,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "seed": case["seed"],
            "config_args": to_jsonable(case["config"]),
            "config_json": "only the keys of stabilityai/stable-diffusion-2-1's unet/config.json" if case.get(
                "config_keys") else "every key diffusers' save_config writes",
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "attention_processor": "AttnProcessor (classic baddbmm + softmax; torch 1.13 has no SDPA)",
            "baddbmm_note": _TorchBaddbmmFix.__doc__.strip(),
            "upcast_note": (sdpa_semantics.__doc__.strip() if n_off else None),
            "runs": notes_runs,
        }
        with open(os.path.join(d, "notes.json"), "w") as f:
            json.dump(notes, f, indent=2)
            f.write("\n")
        sizes = {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}
        print(name, sizes)


if __name__ == "__main__":
    main()
