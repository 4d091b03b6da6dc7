"""inpaint_full_res ("only masked") goldens: diffusers' own StableDiffusionInpaintPipeline with padding_mask_crop.

usage (see README.md):
    PYTHONPATH=SHIM python3 gen_full_res.py DEMO_MODEL IMG2IMG_DIR INPAINT_DIR OUT_DIR

Uses IMG2IMG_DIR/init.png and INPAINT_DIR/unet9/; writes OUT_DIR/mask_small.png (a 64x48 RGB mask: a small white
box to repaint with a grey ramp on one side), golden.safetensors and notes.json. Each run optionally blurs the mask
(pipe.mask_processor.blur, as for mask_blur) and calls StableDiffusionInpaintPipeline.__call__(..., mask_image=mask,
height=48, width=64, padding_mask_crop=pad, output_type="pil"): diffusers then finds the mask's bounding box
(VaeImageProcessor.get_crop_region: grown by pad, widened to the 64:48 aspect), crops image and mask to it and
resizes them to 64x48 (resize_mode "fill": PIL LANCZOS, edges filled from the border rows/columns), inpaints at
64x48, and pastes the result back (apply_overlay: resized to the box with resize_mode "crop", composited over the
original through the inverted mask).

golden.safetensors keys (besides ids.* / embeds.*):
    <run>.blurred_mask     u8  [48, 64, 3]   the mask as given to the pipeline (blurred or not)
    <run>.crop             i64 [4]           crops_coords (x1, y1, x2, y2)
    <run>.image_in         f32 [1, 3, 48, 64] image_processor.preprocess(image, crops_coords, resize_mode="fill")
    <run>.mask_condition   f32 [1, 1, 48, 64] mask_processor.preprocess(mask, crops_coords, resize_mode="fill")
    <run>.start_latents, .run_timesteps, .stepI.latents, .final_latents, .image (decoded, the crop's), .image_u8
                                             (postprocess' PIL image of the crop, before apply_overlay)
    <run>.output_u8        u8  [48, 64, 3]   the pipeline's output: apply_overlay(mask, init, image_u8, crops_coords)
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_inpaint  # noqa: E402  (gen_img2img's shim set-up; the run-recording hooks)
from gen_img2img import STEPS, WIDTH, HEIGHT, PROMPTS, prompt_embeddings, store_trajectory  # noqa: E402
from gen_pipeline import write_json, load_diffusers, _TorchBaddbmmFix  # noqa: E402
from gen_unet import write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models import UNet2DConditionModel  # noqa: E402

RUNS = [
    dict(name="unet4_euler_s0.75_pad8", unet="demo", scheduler="EulerDiscreteScheduler", strength=0.75, seed=99,
         negative="empty", g=5.0, sampler="euler", guidance="5", mask_blur=0, pad=8),
    dict(name="unet4_dpmpp_2m_s1_pad3_blur3", unet="demo", scheduler="DPMSolverMultistepScheduler", strength=1.0,
         seed=4242, negative="negative", g=6.0, sampler="dpmpp_2m", guidance="6", mask_blur=3, pad=3),
    dict(name="unet9_pndm_s1_pad0_blur2", unet="unet9", scheduler=None, strength=1.0, seed=1234, negative="negative",
         g=7.5, sampler=None, guidance="7.5", mask_blur=2, pad=0),
]


def small_mask():
    """A white box (x 26..38, y 14..27) to repaint and a grey ramp right of it; black elsewhere."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    v = np.where((x >= 26) & (x < 38) & (y >= 14) & (y < 27), 255.0, 0.0)
    ramp = (x >= 38) & (x < 44) & (y >= 14) & (y < 27)
    v = np.where(ramp, 255 - 40 * (x - 37), v)
    rgb = np.stack([v, v, v], axis=-1).round().clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(rgb, "RGB")


def main():
    demo, img2img_dir, inpaint_dir, out_dir = sys.argv[1:5]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    mask_png = os.path.join(out_dir, "mask_small.png")
    small_mask().save(mask_png, format="PNG")
    mask0 = PIL.Image.open(mask_png).convert("RGB")
    init = PIL.Image.open(os.path.join(img2img_dir, "init.png")).convert("RGB")
    unet9 = load_diffusers(UNet2DConditionModel, os.path.join(inpaint_dir, "unet9", "unet"))
    runs = gen_inpaint.InpaintRuns(demo, unet9)
    pipe = runs.pipe
    golden, embeds = prompt_embeddings(pipe.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        runs.select(r)
        mask = pipe.mask_processor.blur(mask0, blur_factor=r["mask_blur"]) if r["mask_blur"] else mask0
        golden[name + ".blurred_mask"] = torch.from_numpy(np.array(mask).copy())
        rec = {"steps": {}}

        def wrap_img_pre(orig):
            def img_pre(*a, **k):
                x = orig(*a, **k)
                if "image_in" not in rec:  # the first call is the init image's
                    rec["image_in"] = x.clone()
                    rec["crop"] = k.get("crops_coords")
                return x
            return img_pre

        def wrap_overlay(orig):
            def overlay(m, init_image, image, crop_coords=None):
                rec["before_overlay"] = np.array(image).copy()
                return orig(m, init_image, image, crop_coords)
            return overlay

        gen = torch.Generator("cpu").manual_seed(r["seed"])
        hooks = gen_inpaint.recording_hooks(pipe, rec, mask_latents=False) + [
            (pipe.image_processor, "preprocess", wrap_img_pre), (pipe.image_processor, "apply_overlay", wrap_overlay)]
        with gen_inpaint.hooked(hooks), torch.no_grad():
            out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=init,
                       mask_image=mask, height=HEIGHT, width=WIDTH, strength=r["strength"],
                       num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen, output_type="pil",
                       padding_mask_crop=r["pad"], callback_on_step_end=gen_inpaint.step_recorder(rec),
                       callback_on_step_end_tensor_inputs=["latents"])
        final = np.array(out.images[0])
        m = len(rec["run_timesteps"])
        assert len(rec["steps"]) == m and final.shape == (HEIGHT, WIDTH, 3)
        golden[name + ".crop"] = torch.tensor(list(rec["crop"]), dtype=torch.int64)
        golden[name + ".image_in"] = rec["image_in"]
        golden[name + ".mask_condition"] = rec["mask_condition"]
        golden[name + ".start_latents"] = rec["start"]
        store_trajectory(golden, name, rec, rec["before_overlay"])
        golden[name + ".output_u8"] = torch.from_numpy(final.copy())
        notes_runs.append({
            "name": name, "unet": r["unet"], "scheduler_class": type(pipe.scheduler).__name__,
            "crops_coords": list(rec["crop"]),
            "diffusers": "mask = mask_small.png%s; StableDiffusionInpaintPipeline.__call__(image=init.png, "
                         "mask_image=mask, height=%d, width=%d, strength=%s, num_inference_steps=%d, guidance_scale=%s,"
                         " generator=manual_seed(%d), output_type='pil', padding_mask_crop=%d)"
                         % (" blurred by pipe.mask_processor.blur(blur_factor=%d)" % r["mask_blur"] if r["mask_blur"]
                            else "", HEIGHT, WIDTH, r["strength"], STEPS, r["g"], r["seed"], r["pad"]),
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "strength": r["strength"], "mask_blur": r["mask_blur"], "inpaint_full_res": True,
                        "inpaint_full_res_padding": r["pad"]},
        })
        print("%-30s crop %s steps %d output mean %.1f" % (name, rec["crop"], m, final.mean()))
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_full_res.py (diffusers' own StableDiffusionInpaintPipeline with "
                     "padding_mask_crop, VaeImageProcessor's crop, fill resize and apply_overlay)",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "torch": torch.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
        "init_image": "../img2img/init.png", "mask": "mask_small.png (white = repaint)",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS, "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)})


if __name__ == "__main__":
    main()
