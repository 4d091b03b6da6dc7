#!/bin/sh
# Builds importable "diffusers" and "transformers" packages in which diffusers' real StableDiffusionXLPipeline runs
# with Debian's torch 1.13.1, numpy, PIL and the standard library:
#
#   * tools/pipeline-goldens/make_shim.sh: diffusers' real UNet / VAE / configuration_utils / image_processor /
#     DDIM + Euler schedulers and transformers' real CLIP text model (see that script)
#   * added here, unchanged from the diffusers git tree: pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py,
#     pipeline_stable_diffusion_xl_img2img.py (gen_sdxl_img2img.py) and pipeline_output.py, schedulers/scheduling_dpmsolver_multistep.py
#   * stubbed (infrastructure only): StableDiffusionXLLoraLoaderMixin (empty class), empty_device_cache (a no-op:
#     the img2img pipeline calls it only under enable_model_cpu_offload),
#     TextualInversionLoaderMixin.maybe_convert_prompt (identity: what it does with no embeddings loaded), is_invisible_watermark_available
#     (False: no watermarker, as on an install without invisible-watermark), is_scipy_available (False: only the
#     beta-sigmas option needs scipy), the CLIPTextModelWithProjection export of the transformers package,
#     ModelOutput integer indexing (output[0], as the real ModelOutput.__getitem__ does),
#     PreTrainedModel._from_config (CLIPTextModelWithProjection builds its tower with it: here cls(config), which is
#     what it does without a dtype / attention-implementation override)
# usage: make_shim.sh DIFFUSERS_GIT_DIR TRANSFORMERS_WHEEL SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; WHEEL=$2; OUT=$3; REV=${4:-HEAD}
HERE=$(dirname "$0")
sh "$HERE/../pipeline-goldens/make_shim.sh" "$SRC" "$WHEEL" "$OUT" "$REV"
D="$OUT/diffusers"
mkdir -p "$D/pipelines/stable_diffusion_xl"
show() { git --git-dir="$SRC" show "$REV:src/diffusers/$1" > "$D/$1"; }
for f in pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py pipelines/stable_diffusion_xl/pipeline_output.py \
         pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl_img2img.py \
         schedulers/scheduling_dpmsolver_multistep.py; do
  show "$f"
done
: > "$D/pipelines/stable_diffusion_xl/__init__.py"
cat >> "$D/schedulers/__init__.py" <<'PY'
from .scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler  # noqa  (added by sdxl-goldens)
PY
cat >> "$D/loaders/__init__.py" <<'PY'
class StableDiffusionXLLoraLoaderMixin: pass
# no textual-inversion tokens are loaded, so diffusers' maybe_convert_prompt returns the prompt unchanged
TextualInversionLoaderMixin.maybe_convert_prompt = lambda self, prompt, tokenizer: prompt
PY
cat >> "$D/utils/__init__.py" <<'PY'
# --- added by tools/sdxl-goldens/make_shim.sh
def is_invisible_watermark_available():
    return False
def is_scipy_available():
    return False
PY
cat >> "$OUT/transformers/modeling_utils.py" <<'PY'
# --- added by tools/sdxl-goldens/make_shim.sh
PreTrainedModel._from_config = classmethod(lambda cls, config, **kwargs: cls(config))
PY
cat >> "$OUT/transformers/utils/__init__.py" <<'PY'
# --- added by tools/sdxl-goldens/make_shim.sh: integer indexing as transformers' ModelOutput has it
# (encode_prompt reads output[0]: the first non-None field)
def _model_output_getitem(self, k):
    if isinstance(k, str):
        return OrderedDict.__getitem__(self, k)
    return self.to_tuple()[k]
ModelOutput.__getitem__ = _model_output_getitem
PY
cat >> "$OUT/transformers/__init__.py" <<'PY'
# --- added by tools/sdxl-goldens/make_shim.sh
from .models.clip.modeling_clip import CLIPTextModelWithProjection  # noqa
PY
cat >> "$D/utils/torch_utils.py" <<'PY'
# --- added by tools/sdxl-goldens/make_shim.sh: the img2img pipeline frees the device cache only under CPU offload
def empty_device_cache(*a, **k):
    pass
PY
