"""Single-file (LDM layout) conversion goldens from diffusers' own code.

usage: PYTHONPATH=SHIM_DIR OMP_NUM_THREADS=1 /usr/bin/python3 gen_singlefile.py MODEL_DIR OUT_JSON
(SHIM_DIR is made by make_shim.sh; see README.md.)

1. The diffusers folder MODEL_DIR (unet/, vae/, text_encoder/) is turned into the original single-file layout by
   diffusers' scripts/convert_diffusers_to_original_stable_diffusion.py (convert_unet_state_dict,
   convert_vae_state_dict, convert_text_enc_state_dict, with the prefixes its __main__ adds).
2. That state dict is converted back by diffusers' src/diffusers/loaders/single_file_utils.py
   (convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint, convert_ldm_clip_checkpoint), with the folder's configs.
3. OUT_JSON records both sides as key -> {shape, sha256 of the little-endian float32 bytes}: "ldm" (with "from",
   the folder tensor each LDM tensor is, found by shared storage) and "converted" per component. The round trip is
   asserted to give back the folder's tensors bit for bit.
"""
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors  # noqa: E402  (tools/safetensors_io.py)

import convert_diffusers_to_original as rev
from diffusers.loaders import single_file_utils as sfu


def digest(t):
    b = t.detach().contiguous().numpy().astype("<f4", copy=False).tobytes()
    return {"shape": list(t.shape), "sha256": hashlib.sha256(b).hexdigest()}


def main():
    model, out_json = sys.argv[1], sys.argv[2]
    comps = {
        "unet": read_safetensors(os.path.join(model, "unet", "diffusion_pytorch_model.safetensors")),
        "vae": read_safetensors(os.path.join(model, "vae", "diffusion_pytorch_model.safetensors")),
        "text_encoder": read_safetensors(os.path.join(model, "text_encoder", "model.safetensors")),
    }
    configs = {c: json.load(open(os.path.join(model, c, "config.json"))) for c in ("unet", "vae")}

    # 1. diffusers -> LDM, exactly as the script's __main__ does
    unet_sd = {"model.diffusion_model." + k: v for k, v in rev.convert_unet_state_dict(comps["unet"]).items()}
    vae_sd = {"first_stage_model." + k: v for k, v in rev.convert_vae_state_dict(comps["vae"]).items()}
    te_sd = {"cond_stage_model.transformer." + k: v
             for k, v in rev.convert_text_enc_state_dict(comps["text_encoder"]).items()}
    ldm = {**unet_sd, **vae_sd, **te_sd}

    ptr = {}
    for c, sd in comps.items():
        for k, v in sd.items():
            ptr[v.data_ptr()] = c + "/" + k
    ldm_out = {}
    for k in sorted(ldm):
        d = digest(ldm[k])
        d["from"] = ptr[ldm[k].data_ptr()]
        ldm_out[k] = d

    # 2. LDM -> diffusers with diffusers' single-file code
    conv = {
        "unet": sfu.convert_ldm_unet_checkpoint(dict(ldm), configs["unet"]),
        "vae": sfu.convert_ldm_vae_checkpoint(dict(ldm), configs["vae"]),
        "text_encoder": sfu.convert_ldm_clip_checkpoint(dict(ldm)),
    }
    conv_out = {}
    for c, sd in conv.items():
        assert sorted(sd) == sorted(comps[c]), (c, set(sd) ^ set(comps[c]))
        for k, v in sd.items():
            assert v.shape == comps[c][k].shape and torch.equal(v, comps[c][k]), (c, k)
        conv_out[c] = {k: digest(sd[k]) for k in sorted(sd)}

    rev_id = open(os.path.join(os.path.dirname(sfu.__file__), "..", "REVISION")).read().strip()
    doc = {"diffusers_revision": rev_id, "torch": torch.__version__, "ldm": ldm_out, "converted": conv_out}
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=0, sort_keys=True)
        f.write("\n")
    print("ldm tensors", len(ldm_out), {c: len(v) for c, v in conv_out.items()})


if __name__ == "__main__":
    main()
