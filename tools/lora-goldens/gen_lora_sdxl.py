"""SDXL LoRA goldens: diffusers' own kohya -> diffusers/PEFT conversion for SDXL, and the merged weights.

usage: PYTHONPATH=SHIM_DIR OMP_NUM_THREADS=1 python gen_lora_sdxl.py SDXL_MODEL_DIR OUT_DIR
(SHIM_DIR is made by make_shim.sh; see README.md.)

As gen_lora.py, for the tiny SDXL folder (tools/sdxl-goldens): OUT_DIR/kohya.safetensors is a rank-2 kohya LoRA in
the form kohya's sd-scripts write for SDXL: UNet modules under the original (sgm/LDM) block names kohya trains SDXL on
(lora_unet_input_blocks_3_1_transformer_blocks_0_attn1_to_q, …, resnet in_layers_2 / emb_layers_1), lora_te1_ for
text_encoder and lora_te2_ for text_encoder_2, alpha 1. diffusers' StableDiffusionXLLoraLoaderMixin converts it as
lora_state_dict does (_maybe_map_sgm_blocks_to_diffusers with the UNet's layers_per_block, then
_convert_non_diffusers_lora_to_diffusers), and load_lora_into_unet / load_lora_into_text_encoder (prefixes
"text_encoder" and "text_encoder_2") continue (convert_unet_state_dict_to_peft; convert_state_dict_to_diffusers +
convert_state_dict_to_peft). OUT_DIR/peft.safetensors holds the result in diffusers/PEFT keys (unet.…, text_encoder.…,
text_encoder_2.text_model.…; alpha/r folded into lora_B), OUT_DIR/golden.safetensors the merged weights at LoRA weight
0.7 (PEFT's get_delta_weight, fp64 and fp32), OUT_DIR/keys.json kohya key -> PEFT key and network_alphas.
"""
import json
import os
import sys
from types import SimpleNamespace

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402  (tools/safetensors_io.py)

from diffusers.loaders.lora_conversion_utils import (_convert_non_diffusers_lora_to_diffusers,  # noqa: E402
                                                     _maybe_map_sgm_blocks_to_diffusers)
from diffusers.utils.state_dict_utils import (convert_state_dict_to_diffusers, convert_state_dict_to_peft,  # noqa: E402
                                              convert_unet_state_dict_to_peft)

# kohya (sgm) UNet module -> the diffusers module it is (asserted against diffusers' conversion below); the tiny UNet
# has one resnet per block: input_blocks 1 = down 0, 3 = down 1, 5 = down 2; output_blocks 2 per up block
UNET_MODULES = {
    "input_blocks.3.1.transformer_blocks.0.attn1.to_q": "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
    "input_blocks.5.1.proj_in": "down_blocks.2.attentions.0.proj_in",
    "input_blocks.1.0.in_layers.2": "down_blocks.0.resnets.0.conv1",
    "middle_block.1.transformer_blocks.0.attn2.to_k": "mid_block.attentions.0.transformer_blocks.0.attn2.to_k",
    "output_blocks.1.1.transformer_blocks.0.ff.net.2": "up_blocks.0.attentions.1.transformer_blocks.0.ff.net.2",
    "output_blocks.2.0.emb_layers.1": "up_blocks.1.resnets.0.time_emb_proj",
}
# q and out_proj together, as kohya trains them (see gen_lora.py)
TE_MODULES = [
    "text_model.encoder.layers.0.self_attn.q_proj",
    "text_model.encoder.layers.0.self_attn.out_proj",
    "text_model.encoder.layers.1.mlp.fc1",
]
RANK, ALPHA, WEIGHT = 2, 1.0, 0.7


def main():
    model, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    base = {"unet": read_safetensors(os.path.join(model, "unet", "diffusion_pytorch_model.safetensors")),
            "text_encoder": read_safetensors(os.path.join(model, "text_encoder", "model.safetensors")),
            "text_encoder_2": read_safetensors(os.path.join(model, "text_encoder_2", "model.safetensors"))}
    unet_config = json.load(open(os.path.join(model, "unet", "config.json")))
    g = torch.Generator().manual_seed(1616)
    kohya = {}
    plan = [("unet", "lora_unet_", m, d) for m, d in UNET_MODULES.items()]
    plan += [("text_encoder", "lora_te1_", m, m) for m in TE_MODULES]
    plan += [("text_encoder_2", "lora_te2_", m, m) for m in TE_MODULES + ["text_model.encoder.layers.2.self_attn.v_proj"]]
    for comp, prefix, m, d in plan:
        w = base[comp][d + ".weight"]
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

    # diffusers' own conversion, as StableDiffusionXLLoraLoaderMixin.lora_state_dict + load_lora_weights run it
    sd = _maybe_map_sgm_blocks_to_diffusers(dict(kohya), SimpleNamespace(**unet_config))
    sd, alphas = _convert_non_diffusers_lora_to_diffusers(sd)
    unet_sd = {k[len("unet."):]: v for k, v in sd.items() if k.startswith("unet.")}
    te_sd = {k[len("text_encoder."):]: v for k, v in sd.items() if k.startswith("text_encoder.")}
    te2_sd = {k[len("text_encoder_2."):]: v for k, v in sd.items() if k.startswith("text_encoder_2.")}
    assert len(unet_sd) + len(te_sd) + len(te2_sd) == len(sd), sorted(sd)
    peft = {"unet": convert_unet_state_dict_to_peft(unet_sd),
            "text_encoder": convert_state_dict_to_peft(convert_state_dict_to_diffusers(te_sd)),
            "text_encoder_2": convert_state_dict_to_peft(convert_state_dict_to_diffusers(te2_sd))}
    keymap = {}
    for k, v in kohya.items():
        for comp, d in peft.items():
            for pk, pv in d.items():
                if pv is v:
                    keymap[k] = comp + "." + pk
    assert len(keymap) == 2 * len(plan), (len(keymap), len(plan))
    for comp, prefix, m, d in plan:  # the sgm names land on the modules we meant
        assert keymap[prefix + m.replace(".", "_") + ".lora_down.weight"] == comp + "." + d + ".lora_A.weight", m
    golden, peft_file = {}, {}
    for comp, d in peft.items():
        for pk in sorted(d):
            if not pk.endswith("lora_A.weight"):
                continue
            module = pk[: -len(".lora_A.weight")]
            A, B = d[pk], d[module + ".lora_B.weight"]
            r = A.shape[0]
            scaling = ALPHA / r
            peft_file[comp + "." + pk] = A
            peft_file[comp + "." + module + ".lora_B.weight"] = B * scaling   # PEFT default lora_alpha = r
            for tag, dt in (("f64", torch.float64), ("f32", torch.float32)):
                W, a, b = base[comp][module + ".weight"].to(dt), A.to(dt), B.to(dt)
                if W.ndim == 4:   # peft.tuners.lora.layer.Conv2d.get_delta_weight
                    if W.shape[2:] == (1, 1):
                        delta = (b.squeeze(3).squeeze(2) @ a.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3)
                    else:
                        delta = F.conv2d(a.permute(1, 0, 2, 3), b).permute(1, 0, 2, 3)
                else:             # peft.tuners.lora.layer.Linear.get_delta_weight (fan_in_fan_out False)
                    delta = b @ a
                golden[comp + "/" + module + ".weight." + tag] = W + WEIGHT * scaling * delta
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
