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


def ldm_unet_names(keys, layers):
    """diffusers UNet key -> LDM key for any depth: the inverse of convert_ldm_unet_checkpoint's renaming.

    diffusers' reverse scripts hard-code SD 1.x's and SDXL base's block counts (layers_per_block 2); the tiny SDXL
    UNet has one resnet per block. The input blocks are conv_in, then per level `layers` resnets (+ attention) and
    a downsampler; the output blocks per level `layers + 1` resnets (+ attention), the last with the upsampler.
    check_unet_inverse() shows this equals convert_diffusers_to_original_sdxl.convert_unet_state_dict on SDXL base's
    layout, and sdxl() that diffusers' single-file code turns it back into the folder's tensors.
    """
    top = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
           "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
           "add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2."}
    resnet = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
              ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"))
    up_has_attn = {int(k.split(".")[1]) for k in keys if k.startswith("up_blocks.") and ".attentions." in k}
    out = {}
    for k in keys:
        p = k.split(".")
        d = None
        for a, b in top.items():
            if k.startswith(a):
                d = b + k[len(a):]
        if p[0] == "down_blocks":
            i, kind, j, rest = int(p[1]), p[2], int(p[3]), ".".join(p[4:])
            if kind == "resnets":
                for a, b in resnet:
                    rest = rest.replace(a, b)
                d = "input_blocks.%d.0.%s" % ((layers + 1) * i + j + 1, rest)
            elif kind == "attentions":
                d = "input_blocks.%d.1.%s" % ((layers + 1) * i + j + 1, rest)
            else:  # downsamplers.0.conv.*
                d = "input_blocks.%d.0.op.%s" % ((layers + 1) * (i + 1), ".".join(p[5:]))
        elif p[0] == "up_blocks":
            i, kind, j, rest = int(p[1]), p[2], int(p[3]), ".".join(p[4:])
            if kind == "resnets":
                for a, b in resnet:
                    rest = rest.replace(a, b)
                d = "output_blocks.%d.0.%s" % ((layers + 1) * i + j, rest)
            elif kind == "attentions":
                d = "output_blocks.%d.1.%s" % ((layers + 1) * i + j, rest)
            else:  # upsamplers.0.conv.*
                d = "output_blocks.%d.%d.%s" % ((layers + 1) * i + layers, 2 if i in up_has_attn else 1, rest)
        elif p[0] == "mid_block":
            kind, j, rest = p[1], int(p[2]), ".".join(p[3:])
            if kind == "resnets":
                for a, b in resnet:
                    rest = rest.replace(a, b)
                d = "middle_block.%d.%s" % (2 * j, rest)
            else:
                d = "middle_block.1.%s" % rest
        assert d is not None, k
        out[k] = d
    return out


def check_unet_inverse():
    """ldm_unet_names == diffusers' SDXL reverse script on SDXL base's block layout (names only)."""
    import convert_diffusers_to_original_sdxl as rev_xl
    keys = [m + "." + p for m in ("time_embedding.linear_1", "time_embedding.linear_2", "conv_in", "conv_out",
                                  "conv_norm_out", "add_embedding.linear_1", "add_embedding.linear_2")
            for p in ("weight", "bias")]
    res = ["norm1.weight", "conv1.bias", "norm2.bias", "conv2.weight", "time_emb_proj.weight", "conv_shortcut.weight"]
    att = ["proj_in.weight", "transformer_blocks.1.attn2.to_k.weight", "norm.bias"]
    for i in range(3):
        for j in range(2):
            keys += ["down_blocks.%d.resnets.%d.%s" % (i, j, r) for r in res]
            if i > 0:
                keys += ["down_blocks.%d.attentions.%d.%s" % (i, j, a) for a in att]
        for j in range(3):
            keys += ["up_blocks.%d.resnets.%d.%s" % (i, j, r) for r in res]
            if i < 2:
                keys += ["up_blocks.%d.attentions.%d.%s" % (i, j, a) for a in att]
        if i < 2:
            keys += ["down_blocks.%d.downsamplers.0.conv.weight" % i, "up_blocks.%d.upsamplers.0.conv.bias" % i]
    keys += ["mid_block.resnets.%d.%s" % (j, r) for j in range(2) for r in res]
    keys += ["mid_block.attentions.0.%s" % a for a in att]
    theirs = rev_xl.convert_unet_state_dict({k: k for k in keys})  # LDM name -> diffusers name
    ours = ldm_unet_names(keys, 2)
    assert {v: k for k, v in theirs.items()} == ours, set(theirs) ^ set(ours.values())
    print("ldm_unet_names equals convert_diffusers_to_original_sdxl on SDXL base's layout:", len(keys), "keys")


def sdxl(model, out_json):
    """The tiny SDXL folder in SDXL's single-file layout, converted back by diffusers' single-file code."""
    import convert_diffusers_to_original_sdxl as rev_xl
    check_unet_inverse()
    files = {"unet": "unet/diffusion_pytorch_model.safetensors", "vae": "vae/diffusion_pytorch_model.safetensors",
             "text_encoder": "text_encoder/model.safetensors", "text_encoder_2": "text_encoder_2/model.safetensors"}
    comps = {c: read_safetensors(os.path.join(model, f)) for c, f in files.items()}
    configs = {c: json.load(open(os.path.join(model, c, "config.json"))) for c in ("unet", "vae")}
    ptr = {}
    for c, sd in comps.items():
        for kk, v in sd.items():
            ptr[v.data_ptr()] = c + "/" + kk

    # 1. diffusers -> LDM: diffusers' SDXL reverse script for the VAE and both text encoders (its
    #    convert_openclip_text_enc_state_dict fuses q/k/v; text_projection transposed as its __main__ does), the UNet
    #    by ldm_unet_names (the script's UNet map is fixed to SDXL base's two resnets per block)
    ldm, origin = {}, {}
    names = ldm_unet_names(list(comps["unet"]), configs["unet"]["layers_per_block"])
    for kk, v in comps["unet"].items():
        ldm["model.diffusion_model." + names[kk]] = v
        origin["model.diffusion_model." + names[kk]] = (["unet/" + kk], None)
    for kk, v in rev_xl.convert_vae_state_dict(comps["vae"]).items():
        ldm["first_stage_model." + kk] = v
        origin["first_stage_model." + kk] = ([ptr[v.data_ptr()]], None)
    for kk, v in rev_xl.convert_openai_text_enc_state_dict(comps["text_encoder"]).items():
        ldm["conditioner.embedders.0.transformer." + kk] = v
        origin["conditioner.embedders.0.transformer." + kk] = (["text_encoder/" + kk], None)
    te2 = rev_xl.convert_openclip_text_enc_state_dict(comps["text_encoder_2"])
    te2 = {"conditioner.embedders.1.model." + kk: v for kk, v in te2.items()}
    te2["conditioner.embedders.1.model.text_projection"] = te2.pop(
        "conditioner.embedders.1.model.text_projection.weight").T.contiguous()
    ldm.update(te2)
    # where each OpenCLIP tensor came from, for the Java fixture (checked against to_open_clip's own account)
    specs, _ = to_open_clip(comps["text_encoder_2"], "conditioner.embedders.1.model.", False, "transpose")
    assert sorted(specs) == sorted(te2), set(specs) ^ set(te2)
    for kk, spec in specs.items():
        assert torch.equal(materialize(spec, "text_encoder_2", comps["text_encoder_2"]), te2[kk]), kk
        origin[kk] = (["text_encoder_2/" + x for x in spec[0]], spec[1])

    # 2. LDM -> diffusers with diffusers' single-file code (the calls its SDXL loader makes)
    conv = {
        "unet": sfu.convert_ldm_unet_checkpoint(dict(ldm), configs["unet"]),
        "vae": sfu.convert_ldm_vae_checkpoint(dict(ldm), configs["vae"]),
        "text_encoder": sfu.convert_ldm_clip_checkpoint(dict(ldm)),
        "text_encoder_2": sfu.convert_open_clip_checkpoint(None, dict(ldm), prefix="conditioner.embedders.1.model."),
    }
    conv_out = {}
    for c, sd in conv.items():
        folder = comps[c]
        assert sorted(sd) == sorted(folder), (c, set(sd) ^ set(folder))
        for kk, v in sd.items():
            assert v.shape == folder[kk].shape and torch.equal(v, folder[kk]), (c, kk)
        conv_out[c] = {kk: digest(sd[kk]) for kk in sorted(sd)}
    write(out_json, ldm, origin, conv_out)


def write(out_json, ldm, origin, conv_out):
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
    elif sys.argv[1] == "sdxl":
        sdxl(*sys.argv[2:4])
    else:
        raise SystemExit("usage: gen_openclip.py sd2 RANDOM_MODEL SD2_OVERLAY OUT_JSON | sdxl SDXL_MODEL OUT_JSON")
