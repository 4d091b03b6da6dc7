"""mask_blur goldens: diffusers' own StableDiffusionInpaintPipeline given a mask blurred by its own
VaeImageProcessor.blur (PIL's ImageFilter.GaussianBlur), as diffusers' inpainting documentation does it.

usage (see README.md):
    PYTHONPATH=SHIM python3 gen_mask_blur.py DEMO_MODEL IMG2IMG_DIR INPAINT_DIR OUT_DIR

Uses IMG2IMG_DIR/init.png, INPAINT_DIR/mask.png and INPAINT_DIR/unet9/ (gen_inpaint.py's). Each run blurs the mask,
mask = pipe.mask_processor.blur(mask.png, blur_factor=mask_blur), then calls StableDiffusionInpaintPipeline.__call__
as gen_inpaint.py does. The pipeline then binarizes the blurred mask (mask_processor: convert("L"), /255, >= 0.5), so
without padding_mask_crop the blur moves the mask's edge where the blurred grey crosses 0.5; it is the same mask
preprocessing for 4- and 9-channel UNets.

golden.safetensors keys (besides ids.* / embeds.*): <run>.blurred_mask u8 [H, W, 3] (the blurred PIL image), and
gen_inpaint.py's keys: <run>.mask_condition, .mask_latent, .masked_image_latents, .start_latents, .run_timesteps,
.stepI.latents, .final_latents, .image, .image_u8.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_inpaint  # noqa: E402  (gen_img2img's shim set-up; the run-recording hooks)
from gen_img2img import STEPS, WIDTH, HEIGHT, PROMPTS, prompt_embeddings  # noqa: E402
from gen_pipeline import read_json, write_json, load_diffusers, _TorchBaddbmmFix  # noqa: E402
from gen_unet import write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models import UNet2DConditionModel  # noqa: E402

RUNS = [
    dict(name="unet4_euler_s0.75_blur4", unet="demo", scheduler="EulerDiscreteScheduler", strength=0.75, seed=99,
         negative="empty", g=5.0, sampler="euler", guidance="5", mask_blur=4),
    dict(name="unet9_pndm_s1_blur2", unet="unet9", scheduler=None, strength=1.0, seed=1234, negative="negative",
         g=7.5, sampler=None, guidance="7.5", mask_blur=2),
]


def main():
    demo, img2img_dir, inpaint_dir, out_dir = sys.argv[1:5]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    mask = PIL.Image.open(os.path.join(inpaint_dir, "mask.png"))
    init = PIL.Image.open(os.path.join(img2img_dir, "init.png")).convert("RGB")
    unet9 = load_diffusers(UNet2DConditionModel, os.path.join(inpaint_dir, "unet9", "unet"))
    runs = gen_inpaint.InpaintRuns(demo, unet9)
    pipe = runs.pipe
    golden, embeds = prompt_embeddings(pipe.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        runs.select(r)
        blurred = pipe.mask_processor.blur(mask, blur_factor=r["mask_blur"])
        golden[name + ".blurred_mask"] = torch.from_numpy(np.array(blurred).copy())
        rec = {"steps": {}}
        gen = torch.Generator("cpu").manual_seed(r["seed"])
        with gen_inpaint.hooked(gen_inpaint.recording_hooks(pipe, rec)), torch.no_grad():
            out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=init,
                       mask_image=blurred, height=HEIGHT, width=WIDTH, strength=r["strength"],
                       num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen, output_type="pil",
                       callback_on_step_end=gen_inpaint.step_recorder(rec),
                       callback_on_step_end_tensor_inputs=["latents"])
        img = np.array(out.images[0])
        m = gen_inpaint.store_inpaint_run(golden, name, rec, img)
        repaint = float(rec["mask_condition"].mean())
        notes_runs.append({
            "name": name, "unet": r["unet"], "scheduler_class": type(pipe.scheduler).__name__,
            "diffusers": "mask = pipe.mask_processor.blur(mask.png, blur_factor=%d); "
                         "StableDiffusionInpaintPipeline.__call__(image=init.png, mask_image=mask, height=%d, width=%d,"
                         " strength=%s, num_inference_steps=%d, guidance_scale=%s, generator=manual_seed(%d), "
                         "output_type='pil')" % (r["mask_blur"], HEIGHT, WIDTH, r["strength"], STEPS, r["g"],
                                                  r["seed"]),
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "strength": r["strength"], "mask_blur": r["mask_blur"]},
            "mask_repaint_fraction": repaint,
            "image_u8_mean": float(img.mean()),
        })
        print("%-28s %s steps run %d repaint %.3f u8 mean %.1f" % (name, type(pipe.scheduler).__name__, m, repaint,
                                                                   img.mean()))
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_mask_blur.py (diffusers' own VaeImageProcessor.blur and "
                     "StableDiffusionInpaintPipeline source)",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "torch": torch.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
        "models": {"demo": "src/test/resources/random-model", "unet9": "../inpaint/unet9 over a copy of the demo model"},
        "init_image": "../img2img/init.png", "mask": "../inpaint/mask.png (white = repaint), blurred per run",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS,
        "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)})


if __name__ == "__main__":
    main()
