"""masked_content goldens: A1111's definitions (modules/processing.py StableDiffusionProcessingImg2Img.init,
modules/masking.py fill) applied to the input of diffusers' own StableDiffusionInpaintPipeline.

usage (see README.md):
    PYTHONPATH=SHIM:A1111_MODULES python3 gen_masked_content.py DEMO_MODEL IMG2IMG_DIR INPAINT_DIR OUT_DIR

A1111_MODULES is a folder holding A1111's own modules/masking.py (its `fill` is called unchanged). Modes:
  fill            the start image replaced by masking.fill(image, mask) (the blurred mask, as A1111 passes its
                  latent_mask), then the pipeline runs on it (its VAE encodes the filled image)
  latent_nothing  A1111's `init_latent * mask`: the image's latents zeroed where the latent mask repaints, applied to
                  the latents the pipeline encodes for its start (prepare_latents' image_latents)
  latent_noise    A1111's `init_latent * mask + create_random_tensors(seed) * nmask`: the masked latents replaced by
                  randn from a fresh generator seeded with the image's seed
The latent mask is the pipeline's own (mask_processor.preprocess, nearest interpolation to latent size); the
latent modes only matter below strength 1 (at 1 the pipeline starts from pure noise), so their runs use 0.6..0.7.

golden.safetensors keys: as gen_inpaint.py's, plus <run>.filled_u8 (fill: the filled start image) and
<run>.image_latents (latent modes: the modified latents prepare_latents noised).
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_inpaint  # noqa: E402  (gen_img2img's shim set-up; the run-recording hooks)
from gen_img2img import STEPS, WIDTH, HEIGHT, PROMPTS, prompt_embeddings  # noqa: E402
from gen_pipeline import write_json, load_diffusers, _TorchBaddbmmFix  # noqa: E402
from gen_unet import write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models import UNet2DConditionModel  # noqa: E402
import masking  # noqa: E402  A1111's modules/masking.py

RUNS = [
    dict(name="fill_unet4_euler_s0.75_blur4", unet="demo", scheduler="EulerDiscreteScheduler", strength=0.75,
         seed=99, negative="empty", g=5.0, sampler="euler", guidance="5", mask_blur=4, content="fill"),
    dict(name="fill_unet9_pndm_s0.8", unet="unet9", scheduler=None, strength=0.8, seed=1234, negative="negative",
         g=7.5, sampler=None, guidance="7.5", mask_blur=0, content="fill"),
    dict(name="latent_nothing_unet4_dpmpp_2m_s0.6", unet="demo", scheduler="DPMSolverMultistepScheduler",
         strength=0.6, seed=4242, negative="negative", g=6.0, sampler="dpmpp_2m", guidance="6", mask_blur=0,
         content="latent_nothing"),
    dict(name="latent_noise_unet9_euler_ancestral_s0.7", unet="unet9", scheduler="EulerAncestralDiscreteScheduler",
         strength=0.7, seed=3000000000, negative="negative", g=6.0, sampler="euler_ancestral", guidance="6",
         mask_blur=0, content="latent_noise"),
]


def main():
    demo, img2img_dir, inpaint_dir, out_dir = sys.argv[1:5]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    mask0 = PIL.Image.open(os.path.join(inpaint_dir, "mask.png"))
    init = PIL.Image.open(os.path.join(img2img_dir, "init.png")).convert("RGB")
    unet9 = load_diffusers(UNet2DConditionModel, os.path.join(inpaint_dir, "unet9", "unet"))
    runs = gen_inpaint.InpaintRuns(demo, unet9)
    pipe = runs.pipe
    golden, embeds = prompt_embeddings(pipe.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        assert r["content"] == "fill" or r["strength"] < 1
        runs.select(r)
        mask = pipe.mask_processor.blur(mask0, blur_factor=r["mask_blur"]) if r["mask_blur"] else mask0
        image = init
        if r["content"] == "fill":
            image = masking.fill(init, mask)
            golden[name + ".filled_u8"] = torch.from_numpy(np.array(image).copy())
        rec = {"steps": {}, "encodes": 0}
        mask_pre = pipe.mask_processor.preprocess  # the class's, unhooked

        def wrap_enc(orig_enc):
            def enc(image, generator):
                lat = orig_enc(image=image, generator=generator)
                rec["encodes"] += 1
                if rec["encodes"] == 1 and r["content"] in ("latent_nothing", "latent_noise"):
                    # the pipeline's mask (it preprocesses it after prepare_latents): mask_processor, nearest to
                    # latent size
                    cond = mask_pre(mask, height=HEIGHT, width=WIDTH, resize_mode="default", crops_coords=None)
                    m = torch.nn.functional.interpolate(cond, size=lat.shape[-2:])
                    keep = 1.0 - m
                    if r["content"] == "latent_nothing":
                        lat = lat * keep
                    else:
                        fresh = torch.randn(lat.shape, generator=torch.Generator().manual_seed(r["seed"]))
                        lat = lat * keep + fresh * m
                    rec["image_latents"] = lat.clone()
                return lat
            return enc

        gen = torch.Generator("cpu").manual_seed(r["seed"])
        hooks = gen_inpaint.recording_hooks(pipe, rec) + [(pipe, "_encode_vae_image", wrap_enc)]
        with gen_inpaint.hooked(hooks), torch.no_grad():
            out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=image,
                       mask_image=mask, height=HEIGHT, width=WIDTH, strength=r["strength"],
                       num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen, output_type="pil",
                       callback_on_step_end=gen_inpaint.step_recorder(rec),
                       callback_on_step_end_tensor_inputs=["latents"])
        img = np.array(out.images[0])
        if "image_latents" in rec:
            golden[name + ".image_latents"] = rec["image_latents"]
        m = gen_inpaint.store_inpaint_run(golden, name, rec, img)
        notes_runs.append({
            "name": name, "unet": r["unet"], "scheduler_class": type(pipe.scheduler).__name__,
            "masked_content": r["content"],
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "strength": r["strength"], "mask_blur": r["mask_blur"], "masked_content": r["content"]},
        })
        print("%-40s %s steps %d u8 mean %.1f" % (name, type(pipe.scheduler).__name__, m, img.mean()))
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_masked_content.py (A1111's own masking.fill, A1111's latent "
                     "definitions, diffusers' own StableDiffusionInpaintPipeline)",
        "a1111_masking": "AUTOMATIC1111/stable-diffusion-webui modules/masking.py at 0cb7262c57",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "torch": torch.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
        "init_image": "../img2img/init.png", "mask": "../inpaint/mask.png",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS, "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)})


if __name__ == "__main__":
    main()
