"""Tiny SDXL-shaped model and goldens computed by diffusers' and transformers' own sources.

usage (see README.md for the whole sequence):
    PYTHONPATH=SHIM /usr/bin/python3 gen_sdxl.py model DEMO_MODEL OUT_DIR
        writes OUT_DIR/model/: a complete diffusers StableDiffusionXLPipeline folder (base 1.0 layout) with random,
        perturbed weights: tokenizer + tokenizer_2 (the demo tokenizer's first MERGES merges; tokenizer_2 pads with
        "!" as SDXL's does), text_encoder (CLIPTextModel), text_encoder_2 (CLIPTextModelWithProjection), unet
        (UNet2DConditionModel with addition_embed_type "text_time"), vae (AutoencoderKL), scheduler
    PYTHONPATH=SHIM /usr/bin/python3 gen_sdxl.py parts OUT_DIR
        writes OUT_DIR/parts.safetensors: text_encoder_2 and the UNet on fixed inputs, float64 and float32, with
        intermediates (keys below)
    PYTHONPATH=SHIM /usr/bin/python3 gen_sdxl.py run OUT_DIR IDS_JSON IDS2_JSON
        runs diffusers' StableDiffusionXLPipeline.__call__ (unchanged source) for every RUNS entry; writes
        OUT_DIR/golden.safetensors and notes.json

Prompts are tokenized by OUR Java ClipTokenizer (tools/pipeline-goldens/TokenizePrompts.java, once per tokenizer
folder); the pipeline gets a stand-in tokenizer (IdsTokenizer) that returns those ids for each text, so diffusers'
own encode_prompt runs unchanged (two encoders, hidden_states[-2], pooled text_embeds of encoder 2, concat,
force_zeros_for_empty_prompt).

parts.safetensors keys (D = f64 or f32):
    te2.input_ids                      i64 [2, 77]  row 0 padded with "!" (id 0), row 1 with EOS
    te2.D.last_hidden_state            [2, 77, 40]
    te2.D.hidden_states.K              [2, 77, 40]  K = 0..3 (embeddings, then each layer's output)
    te2.D.text_embeds                  [2, 24]      text_projection(last_hidden_state[eos position])
    te2_eos.D.text_embeds              [2, 24]      same weights, config eos_token_id = EOS id (the non-legacy
                                                    branch: first position whose id is eos_token_id)
    unet.<run>.{sample,timestep,encoder_hidden_states,text_embeds,time_ids}   inputs (float32 / int64)
    unet.<run>.D.out and unet.<run>.D.<module>  output and intermediates (time_proj, time_embedding, add_time_proj,
                                                add_embedding, conv_in, down_blocks.K, mid_block, up_blocks.K,
                                                conv_norm_out)

golden.safetensors keys (per run):
    ids.tokenizer.<key>, ids.tokenizer_2.<key>    i64 [1, 77]
    <run>.prompt_embeds          f32 [2, 77, 72]   the CFG pair (negative, positive) the UNet receives
    <run>.add_text_embeds        f32 [2, 24]
    <run>.add_time_ids           f32 [2, 6]
    <run>.init_latents           f32 [1, 4, h, w]  randn(generator=Generator().manual_seed(seed)) before sigma
    <run>.init_noise_sigma, <run>.timesteps (f64)
    <run>.unet_out.stepI, <run>.stepI.latents, <run>.final_latents, <run>.image, <run>.image_u8
"""
import copy
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "unet-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "scheduler-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "clip-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline-goldens"))

np._set_promotion_state("weak")  # numpy 2's scalar promotion (the reference environment's)
import torch  # noqa: E402
import patch_linspace  # noqa: E402,F401  torch 2.x's float32 linspace (see tools/scheduler-goldens)

import gen_unet  # noqa: E402
from gen_unet import perturb, read_safetensors, rel_l2, write_safetensors, _TorchBaddbmmFix  # noqa: E402
import gen_clip  # noqa: E402
from gen_clip import _NnFloat64Softmax, _TorchFullFix  # noqa: E402
import gen_pipeline  # noqa: E402  (its instrument(); importing it registers the SD classes too)
from gen_pipeline import load_diffusers, read_json, write_json  # noqa: E402

import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models.attention_processor import Attention, AttnProcessor  # noqa: E402
from diffusers.models import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from diffusers.schedulers import DPMSolverMultistepScheduler, EulerDiscreteScheduler  # noqa: E402
from diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl import StableDiffusionXLPipeline  # noqa
import transformers  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

import safetensors_io  # noqa: E402  (tools/safetensors_io.py: the writer gen_unet now shares)
safetensors_io._DT[torch.uint8] = ("U8", "u1")
for _cls in (EulerDiscreteScheduler, DPMSolverMultistepScheduler, AutoencoderKL, UNet2DConditionModel,
             StableDiffusionXLPipeline):
    setattr(diffusers, _cls.__name__, _cls)
transformers.modeling_utils.PreTrainedModel.dtype = property(lambda self: next(self.parameters()).dtype)

MERGES = 300  # the demo (full CLIP) tokenizer's first merges: vocab 512 byte tokens + MERGES + 2 specials
VOCAB = 512 + MERGES + 2
BOS, EOS = VOCAB - 2, VOCAB - 1

# stabilityai/stable-diffusion-xl-base-1.0 model_index.json (add_watermarker is not in it)
MODEL_INDEX = {
    "_class_name": "StableDiffusionXLPipeline",
    "_diffusers_version": "0.19.0.dev0",
    "force_zeros_for_empty_prompt": True,
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
# SDXL base 1.0 scheduler/scheduler_config.json
SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.19.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
# The keys of SDXL's text_encoder / text_encoder_2 config.json (sizes shrunk; eos_token_id 2 and bos 0 / pad 1 as
# there: the old configs' values, which make transformers pool at argmax(input_ids))
TE_COMMON = {"attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "initializer_factor": 1.0,
             "initializer_range": 0.02, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
             "model_type": "clip_text_model", "pad_token_id": 1, "torch_dtype": "float32",
             "transformers_version": "4.32.0.dev0", "vocab_size": VOCAB}
TE1 = dict(TE_COMMON, architectures=["CLIPTextModel"], hidden_act="quick_gelu", hidden_size=32, intermediate_size=64,
           num_attention_heads=4, num_hidden_layers=3, projection_dim=32)
TE2 = dict(TE_COMMON, architectures=["CLIPTextModelWithProjection"], hidden_act="gelu", hidden_size=40,
           intermediate_size=80, num_attention_heads=5, num_hidden_layers=3, projection_dim=24)
TOKENIZER_CONFIG = {"add_prefix_space": False, "bos_token": "<|startoftext|>", "clean_up_tokenization_spaces": True,
                    "do_lower_case": True, "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 77,
                    "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer", "unk_token": "<|endoftext|>"}
SPECIAL = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
           "unk_token": "<|endoftext|>"}
# SDXL base's UNet config keys (sizes shrunk): DownBlock2D first, text_time added conditioning,
# transformer depth per block [1, 2, 3] (SDXL: [1, 2, 10]), heads [1, 2, 2] of 8 channels, linear projections;
# one resnet per down block (SDXL: 2) to keep the weights under 1 MB
UNET_SEED = 20251115
UNET = dict(
    sample_size=8, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    only_cross_attention=False, block_out_channels=[8, 16, 16], layers_per_block=1, downsample_padding=1,
    mid_block_scale_factor=1, act_fn="silu", norm_num_groups=8, norm_eps=1e-05,
    cross_attention_dim=TE1["hidden_size"] + TE2["hidden_size"], transformer_layers_per_block=[1, 2, 3],
    encoder_hid_dim=None, encoder_hid_dim_type=None, attention_head_dim=[1, 2, 2], num_attention_heads=None,
    dual_cross_attention=False, use_linear_projection=True, class_embed_type=None, addition_embed_type="text_time",
    addition_time_embed_dim=8, num_class_embeds=None, upcast_attention=None, resnet_time_scale_shift="default",
    resnet_skip_time_act=False, resnet_out_scale_factor=1.0, time_embedding_type="positional",
    time_embedding_dim=None, time_embedding_act_fn=None, timestep_post_act=None, time_cond_proj_dim=None,
    conv_in_kernel=3, conv_out_kernel=3, projection_class_embeddings_input_dim=TE2["projection_dim"] + 6 * 8,
    class_embeddings_concat=False, mid_block_only_cross_attention=None, cross_attention_norm=None,
    addition_embed_type_num_heads=64,
)
# SDXL's VAE config keys (scaling_factor 0.13025, force_upcast true), four blocks as there (scale factor 8)
VAE_SEED = 20251116
VAE = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[8, 8, 16, 16], layers_per_block=1,
           act_fn="silu", latent_channels=4, norm_num_groups=4, sample_size=64, scaling_factor=0.13025,
           force_upcast=True)

PROMPTS = {"prompt": "a watercolor painting of a lighthouse on a cliff at dusk", "negative": "blurry, low quality",
           "empty": ""}
WIDTH, HEIGHT, STEPS = 64, 48, 10
RUNS = [
    dict(name="euler_cfg5", scheduler=None, seed=1234, negative="negative", call=dict(guidance_scale=5.0),
         sampler="euler", guidance='{"normalizer":"none","g":5}'),
    dict(name="euler_cfg7_zeros", scheduler=None, seed=99, negative=None, call=dict(guidance_scale=7.0),
         sampler="euler", guidance='{"normalizer":"none","g":7}'),
    dict(name="dpmpp2m_cfg6_rescale0.7", scheduler="DPMSolverMultistepScheduler", seed=3000000000,
         negative="negative", call=dict(guidance_scale=6.0, guidance_rescale=0.7), sampler="dpmpp_2m",
         guidance='{"normalizer":"rescale","g":6,"phi":0.7}'),
    dict(name="euler_cfg5_sizes", scheduler=None, seed=777, negative="negative",
         call=dict(guidance_scale=5.0, original_size=(96, 128), crops_coords_top_left=(8, 16),
                   target_size=(40, 56)),
         sampler="euler", guidance='{"normalizer":"none","g":5}'),
]


def write_tokenizer(demo, out, pad):
    vocab = read_json(os.path.join(demo, "tokenizer", "vocab.json"))
    inv = {i: t for t, i in vocab.items()}
    with open(os.path.join(demo, "tokenizer", "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0].startswith("#version")
    merges = lines[1:1 + MERGES]
    small = {inv[i]: i for i in range(512 + MERGES)}
    for i, m in enumerate(merges):  # CLIP's vocab: 256 bytes, 256 bytes+</w>, then one token per merge, in order
        assert inv[512 + i] == m.replace(" ", ""), (i, m)
    small["<|startoftext|>"] = BOS
    small["<|endoftext|>"] = EOS
    os.makedirs(out)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(small, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join([lines[0]] + merges) + "\n")
    write_json(dict(TOKENIZER_CONFIG, pad_token=pad), os.path.join(out, "tokenizer_config.json"))
    write_json(dict(SPECIAL, pad_token=pad), os.path.join(out, "special_tokens_map.json"))


def text_encoder(cfg, cls, seed):
    torch.manual_seed(seed)
    args = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype",
                                                       "transformers_version")}
    config = CLIPTextConfig(**args)
    assert config._attn_implementation == "eager"
    model = cls(config).eval()
    perturb(model, torch.Generator().manual_seed(seed + 1))
    return model


def make_model(demo, out_dir):
    out = os.path.join(out_dir, "model")
    if os.path.isdir(out):
        shutil.rmtree(out)
    write_json(MODEL_INDEX, os.path.join(out, "model_index.json"))
    write_json(SCHEDULER, os.path.join(out, "scheduler", "scheduler_config.json"))
    write_tokenizer(demo, os.path.join(out, "tokenizer"), "<|endoftext|>")
    write_tokenizer(demo, os.path.join(out, "tokenizer_2"), "!")  # SDXL's tokenizer_2 pads with "!" (id 0)
    for name, cfg, cls, seed in (("text_encoder", TE1, CLIPTextModel, 20251113),
                                 ("text_encoder_2", TE2, CLIPTextModelWithProjection, 20251114)):
        model = text_encoder(cfg, cls, seed)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        os.makedirs(os.path.join(out, name))
        write_safetensors(state, os.path.join(out, name, "model.safetensors"), {"format": "pt"})
        write_json(dict(sorted(cfg.items())), os.path.join(out, name, "config.json"))
    unet = save_diffusers(UNet2DConditionModel, UNET, UNET_SEED, os.path.join(out, "unet"))
    vae = save_diffusers(AutoencoderKL, VAE, VAE_SEED, os.path.join(out, "vae"))
    total = 0
    for root, _, files in os.walk(out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("unet parameters", sum(p.numel() for p in unet.parameters()), "vae", sum(p.numel() for p in vae.parameters()),
          "folder bytes", total)


def save_diffusers(cls, args, seed, folder):
    """A diffusers model built from args with perturbed random weights, saved as from_pretrained reads it; the
    written config.json (exactly args) must rebuild the same config."""
    torch.manual_seed(seed)
    model = cls(**args).eval()
    perturb(model, torch.Generator().manual_seed(seed + 1))
    os.makedirs(folder)
    write_safetensors({k: v.detach().clone() for k, v in model.state_dict().items()},
                      os.path.join(folder, "diffusion_pytorch_model.safetensors"), {"format": "pt"})
    cfg = {"_class_name": cls.__name__, "_diffusers_version": "0.19.0.dev0"}
    cfg.update({k: gen_unet.to_jsonable(v) for k, v in sorted(args.items())})
    full = {k: gen_unet.to_jsonable(v) for k, v in model.config.items() if not k.startswith("_")}
    rebuilt = cls.from_config(cfg)
    assert {k: gen_unet.to_jsonable(v) for k, v in rebuilt.config.items() if not k.startswith("_")} == full
    write_json(cfg, os.path.join(folder, "config.json"))
    return model


def load_text_encoder(folder, cls, **override):
    cfg = dict(read_json(os.path.join(folder, "config.json")), **override)
    model = cls(CLIPTextConfig(**{k: v for k, v in cfg.items() if k not in (
        "architectures", "model_type", "torch_dtype", "transformers_version")})).eval()
    model.load_state_dict(read_safetensors(os.path.join(folder, "model.safetensors")), strict=True)
    return model


def unet_run(model, sample, timestep, ehs, text_embeds, time_ids, dtype):
    out, rec = gen_unet.run(model, sample, timestep, ehs, dtype, extra_record=("add_time_proj", "add_embedding"),
                            added_cond_kwargs={"text_embeds": text_embeds.to(dtype), "time_ids": time_ids.to(dtype)})
    rec.pop("conv_out")  # the output itself
    return out, rec


UNET_RUNS = [
    dict(tag="r8x6_t999", hw=(8, 6), timestep=("i64", 999),
         time_ids=[[48.0, 64.0, 0.0, 0.0, 48.0, 64.0], [1024.0, 1024.0, 16.0, 8.0, 1024.0, 768.0]]),
    dict(tag="r5x7_tb", hw=(5, 7), timestep=("f32", [501.5, 3.25]),
         time_ids=[[832.0, 1216.0, 0.0, 0.0, 832.0, 1216.0], [512.0, 512.0, 0.0, 0.0, 1024.0, 1024.0]]),
]


def make_parts(out_dir):
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    import transformers.modeling_attn_mask_utils as mask_utils
    mask_utils.torch = _TorchFullFix()
    model_dir = os.path.join(out_dir, "model")
    golden = {}
    notes = {"unet_runs": [], "te2": {}}
    # text_encoder_2: ids with "!" padding (SDXL's tokenizer_2) and with EOS padding
    igen = torch.Generator().manual_seed(5)
    rows = []
    for n, pad in ((9, 0), (30, EOS)):
        body = torch.randint(1, VOCAB - 2, (n,), generator=igen).tolist()
        row = [BOS] + body + [EOS]
        rows.append(row + [pad] * (77 - len(row)))
    ids = torch.tensor(rows, dtype=torch.int64)
    golden["te2.input_ids"] = ids
    classic_nn = modeling_clip.nn
    modeling_clip.nn = _NnFloat64Softmax()
    try:
        for prefix, override in (("te2", {}), ("te2_eos", {"eos_token_id": EOS})):
            m32 = load_text_encoder(os.path.join(model_dir, "text_encoder_2"), CLIPTextModelWithProjection,
                                    **override)
            m64 = copy.deepcopy(m32).double()
            for key, m in (("f64", m64), ("f32", m32)):
                with torch.no_grad():
                    out = m(input_ids=ids, output_hidden_states=True)
                golden["%s.%s.text_embeds" % (prefix, key)] = out.text_embeds
                if prefix == "te2":
                    golden["te2.%s.last_hidden_state" % key] = out.last_hidden_state
                    for k, h in enumerate(out.hidden_states):
                        golden["te2.%s.hidden_states.%d" % (key, k)] = h
            notes["te2"][prefix] = {"config_override": override,
                                    "relL2_text_embeds_f32_vs_f64": rel_l2(golden[prefix + ".f32.text_embeds"],
                                                                           golden[prefix + ".f64.text_embeds"])}
    finally:
        modeling_clip.nn = classic_nn
    # the UNet with text_time conditioning
    unet32 = load_diffusers(UNet2DConditionModel, os.path.join(model_dir, "unet"))
    unet64 = copy.deepcopy(unet32).double()
    gen_unet.sdpa_semantics(unet64)
    ctx = UNET["cross_attention_dim"]
    igen = torch.Generator().manual_seed(6)
    for r in UNET_RUNS:
        tag = "unet." + r["tag"]
        h, w = r["hw"]
        sample = torch.randn((2, 4, h, w), generator=igen)
        ehs = torch.randn((2, 77, ctx), generator=igen)
        text_embeds = torch.randn((2, TE2["projection_dim"]), generator=igen)
        time_ids = torch.tensor(r["time_ids"], dtype=torch.float32)
        t = gen_unet.make_timestep(r["timestep"])
        for k, v in (("sample", sample), ("timestep", t), ("encoder_hidden_states", ehs),
                     ("text_embeds", text_embeds), ("time_ids", time_ids)):
            golden["%s.%s" % (tag, k)] = v
        for key, m, dt in (("f64", unet64, torch.float64), ("f32", unet32, torch.float32)):
            out, rec = unet_run(m, sample, t, ehs, text_embeds, time_ids, dt)
            golden["%s.%s.out" % (tag, key)] = out
            for name, v in rec.items():
                golden["%s.%s.%s" % (tag, key, name)] = v
        notes["unet_runs"].append(dict(r, relL2_f32_vs_f64=rel_l2(golden[tag + ".f32.out"], golden[tag + ".f64.out"])))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    write_safetensors(golden, os.path.join(out_dir, "parts.safetensors"), {"format": "pt"})
    notes.update(common_notes())
    write_json(notes, os.path.join(out_dir, "parts_notes.json"))
    print(json.dumps(notes["te2"]), [r["relL2_f32_vs_f64"] for r in notes["unet_runs"]],
          os.path.getsize(os.path.join(out_dir, "parts.safetensors")))


def common_notes():
    return {
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "transformers_version": transformers.__version__,
        "transformers_source": open(os.path.join(os.path.dirname(transformers.__file__), "SOURCE")).read().strip(),
        "torch": torch.__version__,
        "numpy": np.__version__ + " (numpy 2 scalar promotion: _set_promotion_state('weak'))",
        "attention_processor": "AttnProcessor (classic baddbmm + softmax; torch 1.13 has no SDPA)",
        "baddbmm_note": _TorchBaddbmmFix.__doc__.strip(),
    }


class IdsTokenizer:
    """Stands in for transformers' CLIPTokenizer inside the pipeline: returns, for each text, the ids our Java
    ClipTokenizer produced for it (padded to 77, truncated; TokenizePrompts.java). Only the call encode_prompt
    makes is supported."""

    class _Out:
        def __init__(self, ids):
            self.input_ids = ids

    def __init__(self, doc):
        self.model_max_length = doc["max_length"]
        self.table = {e["text"]: e["ids"] for e in doc["ids"].values()}

    def __call__(self, text, padding=None, max_length=None, truncation=None, return_tensors=None):
        texts = [text] if isinstance(text, str) else text
        assert return_tensors == "pt" and (padding == "longest" or max_length == self.model_max_length)
        return self._Out(torch.tensor([self.table[t] for t in texts], dtype=torch.int64))


def run_all(out_dir, ids_json, ids2_json):
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    import transformers.modeling_attn_mask_utils as mask_utils
    mask_utils.torch = _TorchFullFix()  # float32 masks are made as before (only float64 fills change)
    model_dir = os.path.join(out_dir, "model")
    docs = {"tokenizer": read_json(ids_json), "tokenizer_2": read_json(ids2_json)}
    assert docs["tokenizer"]["pad_id"] == EOS and docs["tokenizer_2"]["pad_id"] == 0
    sched = EulerDiscreteScheduler.from_config(read_json(os.path.join(model_dir, "scheduler", "scheduler_config.json")))
    pipe = StableDiffusionXLPipeline(
        vae=load_diffusers(AutoencoderKL, os.path.join(model_dir, "vae")),
        text_encoder=load_text_encoder(os.path.join(model_dir, "text_encoder"), CLIPTextModel),
        text_encoder_2=load_text_encoder(os.path.join(model_dir, "text_encoder_2"), CLIPTextModelWithProjection),
        tokenizer=IdsTokenizer(docs["tokenizer"]), tokenizer_2=IdsTokenizer(docs["tokenizer_2"]),
        unet=load_diffusers(UNet2DConditionModel, os.path.join(model_dir, "unet")), scheduler=sched,
        force_zeros_for_empty_prompt=read_json(os.path.join(model_dir, "model_index.json"))[
            "force_zeros_for_empty_prompt"])
    assert pipe.watermark is None
    for m in list(pipe.unet.modules()) + list(pipe.vae.modules()):
        if isinstance(m, Attention):
            assert type(m.processor) is AttnProcessor, type(m.processor)
    golden = {}
    for tk, doc in docs.items():
        for key, e in doc["ids"].items():
            assert e["text"] == PROMPTS[key]
            golden["ids.%s.%s" % (tk, key)] = torch.tensor([e["ids"]], dtype=torch.int64)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        pipe.scheduler = sched if r["scheduler"] is None else DPMSolverMultistepScheduler.from_config(sched.config)
        rec = {"unet": [], "steps": {}, "cond": None}
        def on_step(p, i, t, kw):
            rec["steps"][i] = kw["latents"].clone()
            if i == 0:
                rec["cond"] = {k: kw[k].clone() for k in ("prompt_embeds", "add_text_embeds", "add_time_ids")}
            return {}

        restore = gen_pipeline.instrument(pipe, rec)
        try:
            neg = None if r["negative"] is None else PROMPTS[r["negative"]]
            with torch.no_grad():
                out = pipe(prompt=PROMPTS["prompt"], negative_prompt=neg, height=HEIGHT, width=WIDTH,
                           num_inference_steps=STEPS, generator=torch.Generator("cpu").manual_seed(r["seed"]),
                           output_type="pil", callback_on_step_end=on_step,
                           callback_on_step_end_tensor_inputs=["latents", "prompt_embeds", "add_text_embeds",
                                                               "add_time_ids"], **r["call"])
        finally:
            restore()
        img = np.array(out.images[0])
        assert img.dtype == np.uint8 and img.shape == (HEIGHT, WIDTH, 3)
        s = pipe.scheduler
        shape = (1, 4, HEIGHT // pipe.vae_scale_factor, WIDTH // pipe.vae_scale_factor)
        init = torch.randn(shape, generator=torch.Generator().manual_seed(r["seed"]), dtype=torch.float32)
        assert torch.equal(rec["prepared"], init * s.init_noise_sigma), name
        assert len(rec["unet"]) == STEPS and len(rec["steps"]) == STEPS
        final = rec["steps"][STEPS - 1]
        assert torch.equal(rec["decode_in"], final / pipe.vae.config.scaling_factor), name
        if r["negative"] is None:
            assert not rec["cond"]["prompt_embeds"][0].any() and not rec["cond"]["add_text_embeds"][0].any()
        for k, v in rec["cond"].items():
            golden["%s.%s" % (name, k)] = v
        golden[name + ".init_latents"] = init
        golden[name + ".init_noise_sigma"] = torch.tensor(float(s.init_noise_sigma), dtype=torch.float64)
        golden[name + ".timesteps"] = s.timesteps.to(torch.float64)
        for i in range(STEPS):
            golden["%s.unet_out.step%d" % (name, i)] = rec["unet"][i]
            golden["%s.step%d.latents" % (name, i)] = rec["steps"][i]
        golden[name + ".final_latents"] = final
        golden[name + ".image"] = rec["image"]
        golden[name + ".image_u8"] = torch.from_numpy(img.copy())
        call = {k: (list(v) if isinstance(v, tuple) else v) for k, v in r["call"].items()}
        notes_runs.append({
            "name": name,
            "diffusers": "StableDiffusionXLPipeline.__call__(prompt=PROMPT, negative_prompt=%s, height=%d, width=%d, "
                         "num_inference_steps=%d, generator=torch.Generator('cpu').manual_seed(%d), "
                         "output_type='pil', %s)%s" % (
                             "None" if neg is None else repr(neg), HEIGHT, WIDTH, STEPS, r["seed"],
                             ", ".join("%s=%s" % kv for kv in call.items()),
                             "" if r["scheduler"] is None else
                             "; pipe.scheduler = DPMSolverMultistepScheduler.from_config(<EulerDiscrete>.config)"),
            "scheduler_class": type(s).__name__,
            "timesteps": s.timesteps.tolist(),
            "add_time_ids": rec["cond"]["add_time_ids"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": neg, "width": WIDTH, "height": HEIGHT,
                        "steps": STEPS, "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "call": call},
            "final_latents_rms": final.pow(2).mean().sqrt().item(),
            "image_u8_mean": float(img.mean()),
        })
        print("%-24s %s t=%s final rms %.4f u8 mean %.1f" % (name, type(s).__name__, s.timesteps.tolist()[:3],
                                                             notes_runs[-1]["final_latents_rms"], img.mean()))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {"generator": "tools/sdxl-goldens/gen_sdxl.py run (diffusers' own StableDiffusionXLPipeline source)",
             "prompts": PROMPTS, "size": {"width": WIDTH, "height": HEIGHT}, "steps": STEPS, "runs": notes_runs,
             "tokenizer": "ids made by our Java ClipTokenizer (TokenizePrompts.java), served by IdsTokenizer"}
    notes.update(common_notes())
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print(os.path.getsize(os.path.join(out_dir, "golden.safetensors")))


def main():
    cmd = sys.argv[1]
    if cmd == "model":
        make_model(sys.argv[2], sys.argv[3])
    elif cmd == "parts":
        make_parts(sys.argv[2])
    elif cmd == "run":
        run_all(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
