"""Inpainting goldens computed by diffusers' own StableDiffusionInpaintPipeline source.

usage (see README.md):
    PYTHONPATH=SHIM /usr/bin/python3 gen_inpaint.py DEMO_MODEL IMG2IMG_DIR OUT_DIR

Uses IMG2IMG_DIR/init.png (gen_img2img.py's start image) and writes OUT_DIR/mask.png (a 64x48 RGB mask: white =
repaint, with grey and coloured pixels on both sides of the 0.5 threshold so that PIL's convert("L") and the
binarization matter), OUT_DIR/unet9/ (a tiny 9-channel inpainting UNet: diffusers' UNet2DConditionModel with
in_channels 9, random weights perturbed as gen_unet.py does, config.json with every key of its config; the Java
test puts it over a copy of the demo model), golden.safetensors and notes.json.

Each run calls StableDiffusionInpaintPipeline.__call__(prompt_embeds, negative_prompt_embeds, image=<init.png RGB>,
mask_image=<mask.png>, height=48, width=64, strength, num_inference_steps=12, guidance_scale,
generator=torch.Generator("cpu").manual_seed(seed), output_type="pil", callback_on_step_end).

golden.safetensors keys (besides ids.* / embeds.* as gen_img2img.py):
    <run>.mask_condition   f32 [1, 1, H, W]  mask_processor.preprocess(mask): grey, /255, binarized at 0.5
    <run>.mask_latent      f32 [1, 1, h, w]  prepare_mask_latents' nearest interpolation (one of the CFG pair)
    <run>.masked_image_latents f32 [1, 4, h, w] the VAE latents of init_image * (mask_condition < 0.5) (one of the pair)
    <run>.start_latents    f32 [1, 4, h, w]  prepare_latents' result
    <run>.run_timesteps    f64 [M]
    <run>.stepI.latents    f32 [1, 4, h, w]  latents after step I (after the 4-channel blend)
    <run>.final_latents, <run>.image, <run>.image_u8
"""
import contextlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_img2img  # noqa: E402  (sets up the shim environment as gen_pipeline.py does)
from gen_img2img import SCHEDULERS, STEPS, WIDTH, HEIGHT, PROMPTS, load_pipeline, prompt_embeddings, \
    store_trajectory  # noqa: E402
import gen_pipeline  # noqa: E402
from gen_pipeline import read_json, write_json, _TorchBaddbmmFix  # noqa: E402
import gen_unet  # noqa: E402
from gen_unet import perturb, write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models import UNet2DConditionModel  # noqa: E402
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint import \
    StableDiffusionInpaintPipeline  # noqa: E402

setattr(diffusers, "StableDiffusionInpaintPipeline", StableDiffusionInpaintPipeline)

UNET9_SEED = 20261205
UNET9 = dict(
    sample_size=8,
    in_channels=9,
    out_channels=4,
    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[16, 32],
    layers_per_block=1,
    attention_head_dim=8,
    cross_attention_dim=32,
    norm_num_groups=8,
)

# name, unet ("demo": the demo model's 4-channel UNet; "unet9"), scheduler, strength, seed, negative, guidance
RUNS = [
    dict(name="unet4_pndm_s1_cfg7.5", unet="demo", scheduler=None, strength=1.0, seed=1234, negative="negative",
         g=7.5, sampler=None, guidance="7.5"),
    dict(name="unet4_euler_s0.75_cfg5", unet="demo", scheduler="EulerDiscreteScheduler", strength=0.75, seed=99,
         negative="empty", g=5.0, sampler="euler", guidance="5"),
    dict(name="unet4_dpmpp_2m_s0.6_cfg6", unet="demo", scheduler="DPMSolverMultistepScheduler", strength=0.6,
         seed=4242, negative="negative", g=6.0, sampler="dpmpp_2m", guidance="6"),
    dict(name="unet9_pndm_s1_cfg7.5", unet="unet9", scheduler=None, strength=1.0, seed=1234, negative="negative",
         g=7.5, sampler=None, guidance="7.5"),
    dict(name="unet9_euler_ancestral_s0.8_cfg6", unet="unet9", scheduler="EulerAncestralDiscreteScheduler",
         strength=0.8, seed=3000000000, negative="negative", g=6.0, sampler="euler_ancestral", guidance="6"),
]


def mask_image():
    """White (repaint) box with a soft edge: grey and coloured values straddle 0.5 after convert("L")."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    v = np.where((x >= 16) & (x < 48) & (y >= 8) & (y < 32), 255.0, 0.0)
    ramp = (x >= 48) & (x < 56) & (y >= 8) & (y < 32)
    v = np.where(ramp, 124 + (x - 48) + (y % 3), v)  # 124..133: both sides of 127.5
    r = v.copy()
    g = v.copy()
    b = v.copy()
    tint = (y >= 36) & (x < 20)
    r = np.where(tint, 200, r)  # (200, 100, 30): L = 123 (kept) ; (200, 110, 30): L = 129 (repainted)
    g = np.where(tint, np.where(x < 10, 100, 110), g)
    b = np.where(tint, 30, b)
    rgb = np.stack([r, g, b], axis=-1).round().clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(rgb, "RGB")


def make_unet9(out_dir):
    torch.manual_seed(UNET9_SEED)
    unet = UNet2DConditionModel(**UNET9).eval()
    perturb(unet, torch.Generator().manual_seed(UNET9_SEED + 1))
    d = os.path.join(out_dir, "unet9", "unet")
    os.makedirs(d, exist_ok=True)
    state = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    write_safetensors(state, os.path.join(d, "diffusion_pytorch_model.safetensors"), {"format": "pt"})
    cfg = {"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusers.__version__}
    cfg.update({k: gen_unet.to_jsonable(v) for k, v in unet.config.items() if not k.startswith("_")})
    write_json(cfg, os.path.join(d, "config.json"))
    print("unet9 parameters", sum(p.numel() for p in unet.parameters()),
          "bytes", os.path.getsize(os.path.join(d, "diffusion_pytorch_model.safetensors")))
    return unet


class InpaintRuns:
    """diffusers' StableDiffusionInpaintPipeline over the demo model's parts, switched per run (select) to the run's
    UNet ("demo": the model's own 4-channel one, else the 9-channel unet9) and scheduler (None: the model's own, else
    that class from its config)."""

    def __init__(self, demo, unet9):
        base = load_pipeline(demo)
        self.unet4, self.unet9, self.model_scheduler = base.unet, unet9, base.scheduler
        self.pipe = StableDiffusionInpaintPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=None,
                                                   unet=self.unet4, scheduler=base.scheduler, safety_checker=None,
                                                   feature_extractor=None, requires_safety_checker=False)

    def select(self, r):
        self.pipe.unet = self.unet4 if r["unet"] == "demo" else self.unet9
        self.pipe.scheduler = self.model_scheduler if r["scheduler"] is None \
            else SCHEDULERS[r["scheduler"]].from_config(self.model_scheduler.config)
        return self.pipe


def _keep(rec, pick):
    """A wrapper factory: the original method's result, with pick(result)'s (key, tensor) pairs cloned into rec."""
    def wrap(orig):
        def hooked(*a, **k):
            out = orig(*a, **k)
            for key, t in pick(out):
                rec[key] = t.clone()
            return out
        return hooked
    return wrap


def recording_hooks(pipe, rec, mask_latents=True):
    """The (owner, attribute, wrap) hooks every inpaint golden records a run with: the preprocessed mask
    (mask_condition), prepare_mask_latents' mask and masked-image latents of the first image (unless mask_latents is
    False), the start latents, the timesteps run and the decoded image. Install them with hooked()."""
    hooks = [(pipe.mask_processor, "preprocess", _keep(rec, lambda x: [("mask_condition", x)])),
             (pipe, "prepare_latents", _keep(rec, lambda out: [("start", out[0])])),
             (pipe, "get_timesteps", _keep(rec, lambda out: [("run_timesteps", out[0])])),
             (pipe.vae, "decode", _keep(rec, lambda res: [("image", res[0])]))]
    if mask_latents:
        hooks.append((pipe, "prepare_mask_latents",
                      _keep(rec, lambda out: [("mask_latent", out[0][:1]), ("masked_image_latents", out[1][:1])])))
    return hooks


@contextlib.contextmanager
def hooked(hooks):
    """Sets each hook on its owner instance for the run (wrap(original) replaces the method) and deletes it after,
    so the class's method shows through again."""
    for owner, attr, wrap in hooks:
        setattr(owner, attr, wrap(getattr(owner, attr)))
    try:
        yield
    finally:
        for owner, attr, _ in hooks:
            delattr(owner, attr)


def step_recorder(rec):
    """callback_on_step_end keeping the latents after every loop step in rec["steps"]."""
    def on_step(p, i, t, kw):
        rec["steps"][i] = kw["latents"].clone()
        return {}
    return on_step


def store_inpaint_run(golden, name, rec, img):
    """The keys gen_inpaint.py documents, from one recorded run."""
    m = len(rec["run_timesteps"])
    assert len(rec["steps"]) == m and img.shape == (HEIGHT, WIDTH, 3)
    for k in ("mask_condition", "mask_latent", "masked_image_latents"):
        golden["%s.%s" % (name, k)] = rec[k]
    golden[name + ".start_latents"] = rec["start"]
    store_trajectory(golden, name, rec, img)
    return m


def main():
    demo, img2img_dir, out_dir = sys.argv[1:4]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    mask_png = os.path.join(out_dir, "mask.png")
    mask_image().save(mask_png, format="PNG")
    mask = PIL.Image.open(mask_png)
    init = PIL.Image.open(os.path.join(img2img_dir, "init.png")).convert("RGB")
    unet9 = make_unet9(out_dir)
    runs = InpaintRuns(demo, unet9)
    pipe = runs.pipe
    golden, embeds = prompt_embeddings(pipe.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        runs.select(r)
        rec = {"steps": {}}
        on_step = step_recorder(rec)
        gen = torch.Generator("cpu").manual_seed(r["seed"])
        with hooked(recording_hooks(pipe, rec)), torch.no_grad():
            out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=init,
                       mask_image=mask, height=HEIGHT, width=WIDTH, strength=r["strength"],
                       num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen, output_type="pil",
                       callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
        img = np.array(out.images[0])
        m = store_inpaint_run(golden, name, rec, img)
        repaint = float(rec["mask_condition"].mean())
        notes_runs.append({
            "name": name, "unet": r["unet"], "scheduler_class": type(pipe.scheduler).__name__,
            "diffusers": "StableDiffusionInpaintPipeline.__call__(image=init.png, mask_image=mask.png, height=%d, "
                         "width=%d, strength=%s, num_inference_steps=%d, guidance_scale=%s, generator=torch.Generator("
                         "'cpu').manual_seed(%d), output_type='pil')" % (HEIGHT, WIDTH, r["strength"], STEPS, r["g"],
                                                                           r["seed"]),
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "strength": r["strength"]},
            "mask_repaint_fraction": repaint,
            "image_u8_mean": float(img.mean()),
        })
        print("%-34s %s steps run %d repaint %.3f u8 mean %.1f" % (name, type(pipe.scheduler).__name__, m, repaint,
                                                                   img.mean()))
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_inpaint.py (diffusers' own StableDiffusionInpaintPipeline source)",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "torch": torch.__version__,
        "models": {"demo": "src/test/resources/random-model", "unet9": "a copy of the demo model with unet9/ over it"},
        "unet9_seed": UNET9_SEED,
        "unet9_args": UNET9,
        "init_image": "../img2img/init.png", "mask": "mask.png (white = repaint)",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS,
        "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)
           if os.path.isfile(os.path.join(out_dir, f))})


if __name__ == "__main__":
    main()
