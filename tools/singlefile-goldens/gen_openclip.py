"""Single-file goldens for OpenCLIP text encoders (SD 2.x; SDXL's second encoder) from diffusers' own code.

usage: PYTHONPATH=SHIM_DIR OMP_NUM_THREADS=1 python gen_openclip.py sd2 RANDOM_MODEL SD2_OVERLAY OUT_JSON
(SHIM_DIR is made by make_shim.sh; see README.md.)

sd2: the SD 2.x-style tiny model of tools/pipeline-goldens (RANDOM_MODEL with the sd2_v overlay: its v-prediction
UNet with linear projections and list attention_head_dim; the demo VAE; the demo text encoder weights under the
overlay's gelu config) is written in the original SD 2.x single-file layout:
  - UNet and VAE by diffusers' scripts/convert_diffusers_to_original_stable_diffusion.py (convert_unet_state_dict,
    convert_vae_state_dict, with the prefixes its __main__ adds);
  - the text encoder by to_open_clip() below, the inverse of diffusers' convert_open_clip_checkpoint (the reverse
    script only knows SD 1.x's CLIP layout): q/k/v fused into attn.in_proj_weight/bias, ln_1/ln_2, mlp.c_fc/c_proj,
    positional_embedding, token_embedding, ln_final, text_projection, under cond_stage_model.model. SD 2.x runs
    OpenCLIP's penultimate layer, so an SD 2.x file holds one resblock more than the diffusers encoder: the extra
    last one here is a copy of layer 0 (its values must never reach the output), and text_projection (unused by
    SD 2.x) a copy of layer 0's out_proj weight.
That state dict is converted back by diffusers' src/diffusers/loaders/single_file_utils.py
(convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint, convert_open_clip_checkpoint) and asserted to give back
every folder tensor bit for bit. convert_open_clip_checkpoint drops the layer SD 2.x skips through its
SD_2_TEXT_ENCODER_KEYS_TO_IGNORE, which names resblocks.23 (the last of OpenCLIP ViT-H's 24): for the 3-layer tiny
encoder the same list is used with 23 replaced by the tiny file's last index (3); nothing else is changed.

OUT_JSON records key -> {shape, sha256 of the little-endian float32 bytes}: "ldm" with "from" (the folder tensors it
is made of, component/key) and "op" ("cat": rows concatenated; "t": 2-D transpose; absent: the tensor itself), and
"converted" per component, as diffusers' conversion names them.
"""
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors  # noqa: E402  (tools/safetensors_io.py)

import convert_diffusers_to_original as rev  # noqa: E402
from diffusers.loaders import single_file_utils as sfu  # noqa: E402


def digest(t):
    b = t.detach().contiguous().numpy().astype("<f4", copy=False).tobytes()
    return {"shape": list(t.shape), "sha256": hashlib.sha256(b).hexdigest()}


def te_key(sd, k):
    """The folder's text-encoder key (stored with or without transformers' text_model. prefix)."""
    return k if k in sd else k[len("text_model."):]


def to_open_clip(te, prefix, extra_last_layer, projection):
    """diffusers/transformers CLIP text encoder -> OpenCLIP names. Returns {ldm key: (folder keys, op)}."""
    def k(name):
        return te_key(te, "text_model." + name)

    out = {
        prefix + "token_embedding.weight": ([k("embeddings.token_embedding.weight")], None),
        prefix + "positional_embedding": ([k("embeddings.position_embedding.weight")], None),
        prefix + "ln_final.weight": ([k("final_layer_norm.weight")], None),
        prefix + "ln_final.bias": ([k("final_layer_norm.bias")], None),
    }
    layers = 1 + max(int(x.split("encoder.layers.")[1].split(".")[0]) for x in te if "encoder.layers." in x)

    def block(src, dst):
        r = prefix + "transformer.resblocks.%d." % dst
        lk = "encoder.layers.%d." % src
        for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
                     ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")):
            for p in ("weight", "bias"):
                out[r + b + "." + p] = ([k(lk + a + "." + p)], None)
        for p in ("weight", "bias"):
            out[r + "attn.in_proj_" + p] = ([k(lk + "self_attn." + q + "_proj." + p) for q in "qkv"], "cat")

    for i in range(layers):
        block(i, i)
    if extra_last_layer:
        block(0, layers)
    if projection == "copy":
        out[prefix + "text_projection"] = ([k("encoder.layers.0.self_attn.out_proj.weight")], None)
    elif projection == "transpose":
        out[prefix + "text_projection"] = ([te_key(te, "text_projection.weight")], "t")
    return out, layers


def materialize(spec, comp, sd):
    keys, op = spec
    ts = [sd[x] for x in keys]
    if op == "cat":
        return torch.cat(ts, 0)
    if op == "t":
        return ts[0].T.contiguous()
    return ts[0]


def sd2(random_model, overlay, out_json):
    comps = {
        "unet": read_safetensors(os.path.join(overlay, "unet", "diffusion_pytorch_model.safetensors")),
        "vae": read_safetensors(os.path.join(random_model, "vae", "diffusion_pytorch_model.safetensors")),
        "text_encoder": read_safetensors(os.path.join(random_model, "text_encoder", "model.safetensors")),
    }
    configs = {"unet": json.load(open(os.path.join(overlay, "unet", "config.json"))),
               "vae": json.load(open(os.path.join(random_model, "vae", "config.json")))}

    # 1. diffusers -> LDM: UNet and VAE by diffusers' reverse script, the text encoder by to_open_clip
    ldm = {}
    origin = {}
    ptr = {}
    for c in ("unet", "vae"):
        for kk, v in comps[c].items():
            ptr[v.data_ptr()] = c + "/" + kk
    for kk, v in rev.convert_unet_state_dict(comps["unet"]).items():
        ldm["model.diffusion_model." + kk] = v
    for kk, v in rev.convert_vae_state_dict(comps["vae"]).items():
        ldm["first_stage_model." + kk] = v
    for kk, v in ldm.items():
        origin[kk] = ([ptr[v.data_ptr()]], None)
    te_specs, layers = to_open_clip(comps["text_encoder"], "cond_stage_model.model.", True, "copy")
    for kk, spec in te_specs.items():
        ldm[kk] = materialize(spec, "text_encoder", comps["text_encoder"])
        origin[kk] = (["text_encoder/" + x for x in spec[0]], spec[1])

    # 2. LDM -> diffusers with diffusers' single-file code
    ignore = sfu.SD_2_TEXT_ENCODER_KEYS_TO_IGNORE
    assert sum(".resblocks.23." in x for x in ignore) == 12 and len(ignore) == 13, ignore
    sfu.SD_2_TEXT_ENCODER_KEYS_TO_IGNORE = [x.replace(".resblocks.23.", ".resblocks.%d." % layers) for x in ignore]
    conv = {
        "unet": sfu.convert_ldm_unet_checkpoint(dict(ldm), configs["unet"]),
        "vae": sfu.convert_ldm_vae_checkpoint(dict(ldm), configs["vae"]),
        "text_encoder": sfu.convert_open_clip_checkpoint(None, dict(ldm)),
    }
    conv_out = {}
    for c, sd in conv.items():
        folder = comps[c]
        if c == "text_encoder":
            folder = {"text_model." + x if not x.startswith("text_model.") else x: v for x, v in folder.items()}
        assert sorted(sd) == sorted(folder), (c, set(sd) ^ set(folder))
        for kk, v in sd.items():
            assert v.shape == folder[kk].shape and torch.equal(v, folder[kk]), (c, kk)
        conv_out[c] = {kk: digest(sd[kk]) for kk in sorted(sd)}

    ldm_out = {}
    for kk in sorted(ldm):
        d = digest(ldm[kk])
        d["from"] = origin[kk][0]
        if origin[kk][1]:
            d["op"] = origin[kk][1]
        ldm_out[kk] = d
    rev_id = open(os.path.join(os.path.dirname(sfu.__file__), "..", "REVISION")).read().strip()
    doc = {"diffusers_revision": rev_id, "torch": torch.__version__, "ldm": ldm_out, "converted": conv_out}
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=0, sort_keys=True)
        f.write("\n")
    print("ldm tensors", len(ldm_out), {c: len(v) for c, v in conv_out.items()})


if __name__ == "__main__":
    if sys.argv[1] == "sd2":
        sd2(*sys.argv[2:5])
    else:
        raise SystemExit("usage: gen_openclip.py sd2 RANDOM_MODEL SD2_OVERLAY OUT_JSON")
