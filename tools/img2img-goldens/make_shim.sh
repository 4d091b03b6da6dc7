#!/bin/sh
# Builds the shim of tools/pipeline-goldens/make_shim.sh (diffusers' real UNet, VAE, ConfigMixin,
# VaeImageProcessor, schedulers and StableDiffusionPipeline with Debian's torch 1.13.1) and adds, unchanged from
# the diffusers git tree: pipelines/stable_diffusion/pipeline_stable_diffusion_img2img.py and
# pipeline_stable_diffusion_inpaint.py (the references), schedulers/scheduling_pndm.py and
# schedulers/scheduling_dpmsolver_multistep.py. The stubbed schedulers/__init__.py is extended to export them;
# models/__init__.py gets a placeholder AsymmetricAutoencoderKL class (the inpaint pipeline only names it in a
# type annotation and an isinstance check); nothing numerical is stubbed.
# usage: make_shim.sh DIFFUSERS_GIT_DIR TRANSFORMERS_WHEEL SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; WHEEL=$2; OUT=$3; REV=${4:-HEAD}
HERE=$(dirname "$0")
sh "$HERE/../pipeline-goldens/make_shim.sh" "$SRC" "$WHEEL" "$OUT" "$REV"
D="$OUT/diffusers"
show() { git --git-dir="$SRC" show "$REV:src/diffusers/$1" > "$D/$1"; }
for f in pipelines/stable_diffusion/pipeline_stable_diffusion_img2img.py \
         pipelines/stable_diffusion/pipeline_stable_diffusion_inpaint.py schedulers/scheduling_pndm.py \
         schedulers/scheduling_dpmsolver_multistep.py; do
  show "$f"
done
cat >> "$D/schedulers/__init__.py" <<'PY'
# --- added by tools/img2img-goldens/make_shim.sh
from .scheduling_pndm import PNDMScheduler  # noqa
from .scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler  # noqa
PY
cat >> "$D/models/__init__.py" <<'PY'
# --- added by tools/img2img-goldens/make_shim.sh: named by the inpaint pipeline (annotation, isinstance) only
class AsymmetricAutoencoderKL:  # never instantiated
    pass
PY
cat >> "$D/pipelines/stable_diffusion/__init__.py" <<'PY'
# --- added by tools/img2img-goldens/make_shim.sh: the name the img2img pipeline imports from its package
from .pipeline_output import StableDiffusionPipelineOutput  # noqa
PY
cat >> "$D/utils/__init__.py" <<'PY'
# --- added by tools/img2img-goldens/make_shim.sh: names the img2img pipeline and DPM-Solver import
def is_scipy_available():
    return False  # only the beta-sigmas option (not used) needs scipy
def is_torch_xla_available():
    return False
PY
