"""LoRA goldens: diffusers' own kohya -> diffusers/PEFT key conversion, and the merged weights.

usage: PYTHONPATH=SHIM_DIR OMP_NUM_THREADS=1 /usr/bin/python3 gen_lora.py MODEL_DIR OUT_DIR
(SHIM_DIR is made by make_shim.sh; see README.md.)

Writes OUT_DIR/kohya.safetensors, a rank-2 kohya/A1111 LoRA for the tiny model (linear, 1x1-conv and 3x3-conv
modules of the UNet, attention and MLP of the text encoder, alpha 1), OUT_DIR/peft.safetensors, the same update in
diffusers/PEFT keys as diffusers' converters name them (unet.<module>.lora_A/lora_B.weight, text_encoder.…; the alpha
folded into lora_B so that PEFT's default scale 1 gives the same update), and OUT_DIR/golden.safetensors:
for each patched tensor `<component>/<key>.f64` and `.f32`, the merged weight at LoRA weight 0.7, computed as PEFT's
LoraLayer.get_delta_weight does (linear: B @ A; conv: conv2d(A.permute(1,0,2,3), B).permute(1,0,2,3); times
lora_alpha / r) from the float64 / float32 base. OUT_DIR/keys.json records the conversion: kohya key -> PEFT key.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402  (tools/safetensors_io.py)

from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_lora_to_diffusers
from diffusers.utils.state_dict_utils import (convert_state_dict_to_diffusers, convert_state_dict_to_peft,
                                              convert_unet_state_dict_to_peft)

UNET_MODULES = [
    "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
    "down_blocks.0.attentions.0.proj_in",
    "down_blocks.0.resnets.0.conv1",
    "mid_block.attentions.0.transformer_blocks.0.ff.net.2",
    "up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_out.0",
]
# q and out_proj together, as kohya trains them: diffusers infers the text encoder's key style from to_out_lora
# (with q alone its converters leave to_q_lora unmapped and the update would not load there)
TE_MODULES = [
    "text_model.encoder.layers.0.self_attn.q_proj",
    "text_model.encoder.layers.0.self_attn.out_proj",
    "text_model.encoder.layers.1.mlp.fc1",
]
RANK, ALPHA, WEIGHT = 2, 1.0, 0.7


def stored(comp, module):
    """The tensor key in the tiny model's files (its text encoder is saved without transformers' text_model.)."""
    k = module + ".weight"
    return k[len("text_model."):] if comp == "text_encoder" and k.startswith("text_model.") else k


def main():
    model, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    base = {"unet": read_safetensors(os.path.join(model, "unet", "diffusion_pytorch_model.safetensors")),
            "text_encoder": read_safetensors(os.path.join(model, "text_encoder", "model.safetensors"))}
    g = torch.Generator().manual_seed(16)
    kohya = {}
    for comp, prefix, modules in (("unet", "lora_unet_", UNET_MODULES), ("text_encoder", "lora_te_", TE_MODULES)):
        for m in modules:
            w = base[comp][stored(comp, m)]
            name = prefix + m.replace(".", "_")
            if w.ndim == 4:   # conv LoRA (LoCon): down [r, in, kh, kw], up [out, r, 1, 1]
                down = torch.randn(RANK, w.shape[1], w.shape[2], w.shape[3], generator=g) * 0.3
                up = torch.randn(w.shape[0], RANK, 1, 1, generator=g) * 0.3
            else:
                down = torch.randn(RANK, w.shape[1], generator=g) * 0.3
                up = torch.randn(w.shape[0], RANK, generator=g) * 0.3
            kohya[name + ".lora_down.weight"] = down
            kohya[name + ".lora_up.weight"] = up
            kohya[name + ".alpha"] = torch.tensor(ALPHA)
    write_safetensors(kohya, os.path.join(out, "kohya.safetensors"))

    # diffusers' own conversion, as StableDiffusionLoraLoaderMixin.lora_state_dict + load_lora_into_unet /
    # load_lora_into_text_encoder run it
    sd, alphas = _convert_non_diffusers_lora_to_diffusers(dict(kohya))
    unet_sd = {k[len("unet."):]: v for k, v in sd.items() if k.startswith("unet.")}
    te_sd = {k[len("text_encoder."):]: v for k, v in sd.items() if k.startswith("text_encoder.")}
    unet_peft = convert_unet_state_dict_to_peft(unet_sd)
    te_peft = convert_state_dict_to_peft(convert_state_dict_to_diffusers(te_sd))
    peft = {"unet": unet_peft, "text_encoder": te_peft}
    keymap = {}
    for k, v in kohya.items():
        for comp, d in peft.items():
            for pk, pv in d.items():
                if pv is v:
                    keymap[k] = comp + "." + pk
    golden, peft_file = {}, {}
    for comp, d in peft.items():
        for pk in sorted(d):
            if not pk.endswith("lora_A.weight"):
                continue
            module = pk[: -len(".lora_A.weight")]
            assert stored(comp, module) in base[comp], (comp, module)
            A, B = d[pk], d[module + ".lora_B.weight"]
            r = A.shape[0]
            scaling = ALPHA / r
            peft_file[comp + "." + pk] = A
            peft_file[comp + "." + module + ".lora_B.weight"] = B * scaling   # PEFT default lora_alpha = r
            for tag, dt in (("f64", torch.float64), ("f32", torch.float32)):
                W, a, b = base[comp][stored(comp, module)].to(dt), A.to(dt), B.to(dt)
                if W.ndim == 4:   # peft.tuners.lora.layer.Conv2d.get_delta_weight
                    if W.shape[2:] == (1, 1):
                        delta = (b.squeeze(3).squeeze(2) @ a.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3)
                    else:
                        delta = F.conv2d(a.permute(1, 0, 2, 3), b).permute(1, 0, 2, 3)
                else:             # peft.tuners.lora.layer.Linear.get_delta_weight (fan_in_fan_out False)
                    delta = b @ a
                golden[comp + "/" + stored(comp, module) + "." + tag] = W + WEIGHT * scaling * delta
    write_safetensors(peft_file, os.path.join(out, "peft.safetensors"))
    write_safetensors(golden, os.path.join(out, "golden.safetensors"))
    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump({"diffusers_revision": open(os.path.join(os.path.dirname(__import__("diffusers").__file__),
                                                             "REVISION")).read().strip(),
                   "torch": torch.__version__, "rank": RANK, "alpha": ALPHA, "weight": WEIGHT,
                   "network_alphas": alphas, "kohya_to_peft": keymap}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(len(kohya), "kohya tensors,", len(golden), "golden tensors,", len(keymap), "keys mapped")


if __name__ == "__main__":
    main()
