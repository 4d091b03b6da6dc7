"""Extra AutoencoderKL goldens computed by diffusers' own AutoencoderKL source (configs the fixtures do not cover).

usage: PYTHONPATH=SHIM_DIR /usr/bin/python3 gen_vae.py OUT_DIR [CASE ...]
(SHIM_DIR is made by tools/vae-goldens/make_shim.sh; see README.md.)

For each case: AutoencoderKL(**config) with torch.manual_seed(seed) random init, then every parameter perturbed by
small Gaussian noise (tools/unet-goldens/gen_unet.py's perturb), written as OUT_DIR/<case>/{config.json,
diffusion_pytorch_model.safetensors (float32, diffusers keys)}; then each run (tag) is evaluated on a float64 copy
and on the float32 model and written to OUT_DIR/<case>/golden.safetensors:

    <tag>.latents, <tag>.image                 float32 inputs (the float64 run uses the same values, widened)
    <tag>.<f64|f32>.decoded                     vae.decode(latents).sample  (raw: no scaling_factor/shift_factor)
    <tag>.<f64|f32>.encoder_moments             the posterior's parameters: quant_conv(encoder(image)) (or
                                                encoder(image) when use_quant_conv is false)
    <tag>.<f64|f32>.latent_dist.mean / .logvar  vae.encode(image).latent_dist.mean / .logvar (logvar clamped to
                                                [-30, 20] by DiagonalGaussianDistribution)
    <tag>.f64.decode.<module>                   block-level intermediates (forward hooks, names as AutoencoderKL's
    <tag>.f64.encode.<module>                   module paths: RECORD), float64 run of a case's first run only, and
                                                only tensors of at most MAX_INTERMEDIATE elements (small files)
"""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unet-goldens"))
from gen_unet import _TorchBaddbmmFix, perturb, read_safetensors, rel_l2, to_jsonable, write_safetensors  # noqa: E402

import diffusers  # noqa: E402
from diffusers.models.attention_processor import Attention, AttnProcessor  # noqa: E402
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL  # noqa: E402


def blocks(n):
    return dict(down_block_types=["DownEncoderBlock2D"] * n, up_block_types=["UpDecoderBlock2D"] * n)


CASES = {
    # Three levels (downscale 4), one resnet per encoder block, 8 groups; non-square images of two aspect ratios.
    "vae_3block_l1": dict(
        seed=20240701,
        config=dict(blocks(3), block_out_channels=[16, 16, 24], layers_per_block=1, latent_channels=4,
                    norm_num_groups=8, sample_size=56),
        runs=[
            dict(tag="r40x56", hw=(40, 56)),
            dict(tag="r24x72", hw=(24, 72)),
        ],
    ),
    # No quant_conv / post_quant_conv, no mid-block attention (mid blocks are two resnets), 16 latent channels,
    # two resnets per encoder block (three per decoder block), a Flux-like scaling/shift (recorded only).
    "vae_noquant_noattn": dict(
        seed=20240702,
        config=dict(blocks(2), block_out_channels=[16, 24], layers_per_block=2, latent_channels=16,
                    norm_num_groups=8, use_quant_conv=False, use_post_quant_conv=False,
                    mid_block_add_attention=False, scaling_factor=0.3611, shift_factor=0.1159, sample_size=32),
        runs=[
            dict(tag="r20x28", hw=(20, 28)),
            dict(tag="r18x10", hw=(18, 10)),
        ],
    ),
    # The SD layout (four levels, downscale 8, two resnets per encoder block) with an SDXL-style scaling_factor
    # (recorded only: the pipeline applies it) and force_upcast false; odd latent sizes, batch 2 and 1.
    "vae_sd_4block": dict(
        seed=20240703,
        config=dict(blocks(4), block_out_channels=[16, 16, 16, 16], layers_per_block=2, latent_channels=4,
                    norm_num_groups=8, scaling_factor=0.13025, force_upcast=False, sample_size=64),
        runs=[
            dict(tag="r48x64", hw=(48, 64)),
            dict(tag="r40x24", hw=(40, 24)),
            dict(tag="r24x56_b1", hw=(24, 56), batch=1),
        ],
    ),
}

BATCH = 2
MAX_INTERMEDIATE = 6720
RECORD = {"decode": ("post_quant_conv", "decoder.conv_in", "decoder.mid_block", "decoder.mid_block.attentions.0"),
          "encode": ("encoder.mid_block", "encoder.conv_out", "quant_conv")}  # plus up_blocks.K / down_blocks.K


def sdpa_semantics(model):
    """torch 2.x diffusers runs the VAE's mid-block Attention with AttnProcessor2_0 (F.scaled_dot_product_attention
    in the input dtype), which ignores `upcast_softmax` / `upcast_attention`; on torch 1.13 it gets the classic
    AttnProcessor, whose upcast_softmax casts the scores to float32 before the softmax -- a no-op in float32 but a
    DOWNcast in float64. So the float64 run turns both flags off on its Attention modules (the float32 math is
    identical either way)."""
    n = 0
    for m in model.modules():
        if isinstance(m, Attention):
            assert type(m.processor) is AttnProcessor, type(m.processor)
            if m.upcast_softmax or m.upcast_attention:
                m.upcast_softmax = False
                m.upcast_attention = False
                n += 1
    return n


def hooked(model, prefix, rec):
    """Forward hooks on the AutoencoderKL submodules our AutoencoderKL taps (same module paths)."""
    hooks = []

    def hook(name):
        def fn(mod, inp, out):
            o = out[0] if isinstance(out, tuple) else out
            rec[name] = o.detach().clone()
        return fn

    for name, mod in model.named_modules():
        parts = name.split(".")
        keep = (name in RECORD[prefix]
                or (prefix == "decode" and len(parts) == 3 and parts[:2] == ["decoder", "up_blocks"])
                or (prefix == "encode" and len(parts) == 3 and parts[:2] == ["encoder", "down_blocks"]))
        if keep:
            hooks.append(mod.register_forward_hook(hook(prefix + "." + name)))
    return hooks


def run(model, latents, image, dtype, record):
    rec = {}
    hooks = []
    if record:
        hooks += hooked(model, "decode", rec)
        hooks += hooked(model, "encode", rec)
    try:
        with torch.no_grad():
            decoded = model.decode(latents.to(dtype), return_dict=False)[0]
            post = model.encode(image.to(dtype)).latent_dist
    finally:
        for h in hooks:
            h.remove()
    out = {"decoded": decoded, "encoder_moments": post.parameters, "latent_dist.mean": post.mean,
           "latent_dist.logvar": post.logvar}
    for k, v in rec.items():
        assert v.dtype == dtype, (k, v.dtype)
        if v.numel() <= MAX_INTERMEDIATE:
            out[k] = v
    return out


def write_config(model, path):
    cfg = {"_class_name": "AutoencoderKL", "_diffusers_version": diffusers.__version__}
    for k, v in sorted(model.config.items()):
        cfg[k] = to_jsonable(v)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


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
        model = AutoencoderKL(**case["config"]).eval()
        gen = torch.Generator().manual_seed(case["seed"] + 1)
        perturb(model, gen)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        assert all(v.dtype == torch.float32 for v in state.values())
        write_safetensors(state, os.path.join(d, "diffusion_pytorch_model.safetensors"), {"format": "pt"})
        write_config(model, os.path.join(d, "config.json"))
        back = read_safetensors(os.path.join(d, "diffusion_pytorch_model.safetensors"))
        assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)

        m32 = model
        m64_classic = copy.deepcopy(model).double()
        m64 = copy.deepcopy(model).double()
        n_off = sdpa_semantics(m64)
        f = 2 ** (len(model.config.block_out_channels) - 1)
        c = model.config.latent_channels

        golden = {}
        notes_runs = []
        igen = torch.Generator().manual_seed(case["seed"] + 2)
        for i, r in enumerate(case["runs"]):
            h, w = r["hw"]
            assert h % f == 0 and w % f == 0, (h, w, f)
            batch = r.get("batch", BATCH)
            latents = torch.randn((batch, c, h // f, w // f), generator=igen, dtype=torch.float32)
            image = (torch.rand((batch, model.config.in_channels, h, w), generator=igen, dtype=torch.float32) * 2
                     - 1)
            tag = r["tag"]
            golden[tag + ".latents"] = latents
            golden[tag + ".image"] = image
            info = {"tag": tag, "latents": list(latents.shape), "image": list(image.shape)}
            for dtype, m, key in ((torch.float64, m64, "f64"), (torch.float32, m32, "f32")):
                out = run(m, latents, image, dtype, record=(i == 0 and key == "f64"))
                for k, v in out.items():
                    golden["%s.%s.%s" % (tag, key, k)] = v
                info[key + "_decoded_shape"] = list(out["decoded"].shape)
                info[key + "_decoded_rms"] = out["decoded"].pow(2).mean().sqrt().item()
                info[key + "_moments_rms"] = out["encoder_moments"].pow(2).mean().sqrt().item()
                if i == 0 and key == "f64":
                    info[key + "_intermediates"] = sorted(k for k in out if k.startswith(("decode.", "encode.")))
            for k in ("decoded", "encoder_moments"):
                info["relL2_f32_vs_f64_" + k] = rel_l2(golden[tag + ".f32." + k], golden[tag + ".f64." + k])
            if n_off:
                oc = run(m64_classic, latents, image, torch.float64, record=False)
                for k in ("decoded", "encoder_moments"):
                    info["relL2_f64_classic_upcast_vs_f64_" + k] = rel_l2(oc[k], golden[tag + ".f64." + k])
            notes_runs.append(info)
            print("%-20s %-10s decoded %s rms %.4f  f32 vs f64 decoded %.2e moments %.2e" % (
                name, tag, info["f64_decoded_shape"], info["f64_decoded_rms"], info["relL2_f32_vs_f64_decoded"],
                info["relL2_f32_vs_f64_encoder_moments"]))
        for k, v in golden.items():
            assert not v.is_floating_point() or v.isfinite().all(), (name, k)
        write_safetensors(golden, os.path.join(d, "golden.safetensors"), {"format": "pt"})
        notes = {
            "case": name,
            "generator": "tools/vae-goldens/gen_vae.py (diffusers' own AutoencoderKL source via the shim)",
            "diffusers_version": diffusers.__version__,
            "diffusers_revision": revision,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "seed": case["seed"],
            "config_args": to_jsonable(case["config"]),
            "downscale_factor": f,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "scaling_note": "scaling_factor / shift_factor are recorded in config.json only: decode() and encode()"
                            " never apply them (the pipeline does)",
            "attention_processor": "AttnProcessor (classic baddbmm + softmax; torch 1.13 has no SDPA)",
            "baddbmm_note": _TorchBaddbmmFix.__doc__.strip(),
            "upcast_note": (sdpa_semantics.__doc__.strip() if n_off else None),
            "runs": notes_runs,
        }
        with open(os.path.join(d, "notes.json"), "w") as fh:
            json.dump(notes, fh, indent=2)
            fh.write("\n")
        sizes = {fn: os.path.getsize(os.path.join(d, fn)) for fn in os.listdir(d)}
        print(name, sizes, "total %.2f MB" % (sum(sizes.values()) / 1e6))


if __name__ == "__main__":
    main()
