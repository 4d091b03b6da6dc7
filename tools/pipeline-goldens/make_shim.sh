#!/bin/sh
# Builds importable "diffusers" and "transformers" packages in which diffusers' real StableDiffusionPipeline runs
# with nothing but Debian's torch 1.13.1, numpy, PIL and the Python standard library installed:
#
#   * tools/vae-goldens/make_shim.sh: diffusers' real UNet2DConditionModel / AutoencoderKL sources (unchanged)
#   * tools/clip-goldens/make_shim.sh: transformers' real CLIPTextModel sources from a wheel (unchanged)
#   * added here, unchanged from the diffusers git tree: configuration_utils.py (the real ConfigMixin,
#     register_to_config with _use_default_values, from_config / extract_init_dict), image_processor.py
#     (VaeImageProcessor), callbacks.py, utils/pil_utils.py, schedulers/scheduling_utils.py,
#     scheduling_ddim.py, scheduling_euler_discrete.py, scheduling_euler_ancestral_discrete.py,
#     pipelines/stable_diffusion/pipeline_stable_diffusion.py and pipeline_output.py
#   * stubbed (infrastructure only, no numerics): huggingface_hub (names configuration_utils imports; no hub I/O
#     happens), `packaging` (re-exports pip's vendored packaging), DiffusionPipeline (register_modules sets
#     attributes, _execution_device cpu, progress_bar a no-op, maybe_free_model_hooks a no-op), the loader mixins
#     (empty classes), StableDiffusionSafetyChecker (never built: safety_checker=None), models.lora
#     (adjust_lora_scale_text_encoder: only called with a LoRA scale, never here), transformers' CLIPTokenizer /
#     CLIPImageProcessor (type annotations only: prompts enter as prompt_embeds), the extra utils names
#     (replace_example_docstring identity, scale/unscale_lora_layers no-ops, PushToHubMixin, DummyObject, ...).
#     ModelMixin (the UNet shim's thin nn.Module) gets config_name "config.json", as the real one has.
# usage: make_shim.sh DIFFUSERS_GIT_DIR TRANSFORMERS_WHEEL SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; WHEEL=$2; OUT=$3; REV=${4:-HEAD}
HERE=$(dirname "$0")
sh "$HERE/../vae-goldens/make_shim.sh" "$SRC" "$OUT" "$REV"
sh "$HERE/../clip-goldens/make_shim.sh" "$WHEEL" "$OUT"
D="$OUT/diffusers"
mkdir -p "$D/schedulers" "$D/pipelines/stable_diffusion"
show() { git --git-dir="$SRC" show "$REV:src/diffusers/$1" > "$D/$1"; }
for f in configuration_utils.py image_processor.py callbacks.py utils/pil_utils.py schedulers/scheduling_utils.py \
         schedulers/scheduling_ddim.py schedulers/scheduling_euler_discrete.py \
         schedulers/scheduling_euler_ancestral_discrete.py pipelines/stable_diffusion/pipeline_stable_diffusion.py \
         pipelines/stable_diffusion/pipeline_output.py; do
  show "$f"
done
: > "$D/pipelines/__init__.py"; : > "$D/pipelines/stable_diffusion/__init__.py"

cat > "$D/schedulers/__init__.py" <<'PY'
# Stub of the lazy-import package: the three schedulers the goldens use.
from .scheduling_utils import KarrasDiffusionSchedulers, SchedulerMixin  # noqa
from .scheduling_ddim import DDIMScheduler  # noqa
from .scheduling_euler_discrete import EulerDiscreteScheduler  # noqa
from .scheduling_euler_ancestral_discrete import EulerAncestralDiscreteScheduler  # noqa
PY
cat > "$D/models/__init__.py" <<'PY'
# Stub of the lazy-import package: the names pipeline_stable_diffusion.py imports.
from .autoencoders.autoencoder_kl import AutoencoderKL  # noqa
from .embeddings import ImageProjection  # noqa
from .unets.unet_2d_condition import UNet2DConditionModel  # noqa
PY
cat > "$D/models/lora.py" <<'PY'
def adjust_lora_scale_text_encoder(text_encoder, lora_scale=1.0):
    raise NotImplementedError("LoRA is not used")
PY
cat >> "$D/models/modeling_utils.py" <<'PY'
ModelMixin.config_name = "config.json"  # as diffusers' ModelMixin (the real ConfigMixin requires it)
PY
cat >> "$D/loaders/__init__.py" <<'PY'
class FromSingleFileMixin: pass
class IPAdapterMixin: pass
class StableDiffusionLoraLoaderMixin: pass
class TextualInversionLoaderMixin: pass
PY
cat > "$D/pipelines/stable_diffusion/safety_checker.py" <<'PY'
class StableDiffusionSafetyChecker:  # never instantiated: the goldens pass safety_checker=None
    pass
PY
cat > "$D/pipelines/pipeline_utils.py" <<'PY'
# Stub of DiffusionPipeline: no hub loading, offloading, progress bars or device moves; CPU only.
import contextlib
import torch
from ..configuration_utils import ConfigMixin
class DiffusionPipeline(ConfigMixin):
    config_name = "model_index.json"
    def register_modules(self, **kwargs):
        for name, module in kwargs.items():
            setattr(self, name, module)
    @property
    def _execution_device(self):
        return torch.device("cpu")
    def progress_bar(self, iterable=None, total=None):
        class _Bar:
            def update(self, n=1):
                pass
        return contextlib.nullcontext(_Bar())
    def maybe_free_model_hooks(self):
        pass
class StableDiffusionMixin:  # FreeU / QKV fusion helpers, not used
    pass
PY
cat >> "$D/utils/__init__.py" <<'PY'
# --- added by tools/pipeline-goldens/make_shim.sh: the further names configuration_utils, image_processor,
# schedulers and pipeline_stable_diffusion import (no numerics)
import os as _os
CONFIG_NAME = "config.json"
HUGGINGFACE_CO_RESOLVE_ENDPOINT = _os.environ.get("HF_ENDPOINT", "https://huggingface.co")
from .pil_utils import PIL_INTERPOLATION  # noqa  (the real module)
class DummyObject(type):
    pass
class PushToHubMixin:
    pass
def extract_commit_hash(*a, **k):
    return None
def http_user_agent(*a, **k):
    return ""
def replace_example_docstring(doc):
    return lambda fn: fn
def scale_lora_layers(*a, **k):
    pass
def unscale_lora_layers(*a, **k):
    pass
PY
mkdir -p "$OUT/huggingface_hub" "$OUT/packaging"
cat > "$OUT/huggingface_hub/__init__.py" <<'PY'
# Stub: the names diffusers' configuration_utils imports; nothing here downloads or uploads.
class DDUFEntry: pass
def create_repo(*a, **k): raise NotImplementedError
def hf_hub_download(*a, **k): raise NotImplementedError
PY
cat > "$OUT/huggingface_hub/utils.py" <<'PY'
class EntryNotFoundError(Exception): pass
class HfHubHTTPError(Exception): pass
class RepositoryNotFoundError(Exception): pass
class RevisionNotFoundError(Exception): pass
def validate_hf_hub_args(fn): return fn
PY
cat > "$OUT/packaging/__init__.py" <<'PY'
# Debian's python3 has no `packaging`; pip vendors the real one.
from pip._vendor.packaging import version  # noqa
PY
cat > "$OUT/packaging/version.py" <<'PY'
from pip._vendor.packaging.version import *  # noqa
from pip._vendor.packaging.version import parse, Version  # noqa
PY
cat >> "$OUT/transformers/__init__.py" <<'PY'
# --- added by tools/pipeline-goldens/make_shim.sh: the names pipeline_stable_diffusion.py imports
from .models.clip.modeling_clip import CLIPTextModel, CLIPVisionModelWithProjection  # noqa
from .models.clip.configuration_clip import CLIPTextConfig  # noqa
class CLIPTokenizer:  # annotation only: the goldens pass prompt_embeds (ids tokenized by the Java side)
    pass
class CLIPImageProcessor:  # annotation only: no safety checker
    pass
PY
