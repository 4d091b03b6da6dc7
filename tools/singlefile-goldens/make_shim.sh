#!/bin/sh
# Builds a minimal importable "diffusers" package holding diffusers' real single-file conversion source
# (src/diffusers/loaders/single_file_utils.py) and its reverse script (scripts/convert_diffusers_to_original_stable_
# diffusion.py, as module convert_diffusers_to_original), unchanged, so that gen_singlefile.py runs with nothing but
# Debian's torch 1.13.1, numpy and PyYAML. Only infrastructure single_file_utils imports at module level is stubbed
# (model loading, scheduler classes, hub helpers, logging); none of it is called by the conversion functions.
# usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; OUT=$2; REV=${3:-HEAD}
rm -rf "$OUT/diffusers" "$OUT/safetensors" "$OUT/requests" "$OUT/convert_diffusers_to_original.py" "$OUT/convert_diffusers_to_original_sdxl.py"
mkdir -p "$OUT/diffusers/utils" "$OUT/diffusers/loaders" "$OUT/diffusers/models" "$OUT/diffusers/schedulers" \
         "$OUT/safetensors" "$OUT/requests"
git --git-dir="$SRC" rev-parse "$REV" > "$OUT/diffusers/REVISION"
git --git-dir="$SRC" show "$REV:src/diffusers/__init__.py" | grep '^__version__ = ' > "$OUT/diffusers/__init__.py"
: > "$OUT/diffusers/loaders/__init__.py"
: > "$OUT/diffusers/models/__init__.py"
git --git-dir="$SRC" show "$REV:src/diffusers/loaders/single_file_utils.py" > "$OUT/diffusers/loaders/single_file_utils.py"
git --git-dir="$SRC" show "$REV:scripts/convert_diffusers_to_original_stable_diffusion.py" \
    > "$OUT/convert_diffusers_to_original.py"
git --git-dir="$SRC" show "$REV:scripts/convert_diffusers_to_original_sdxl.py" \
    > "$OUT/convert_diffusers_to_original_sdxl.py"

cat > "$OUT/diffusers/models/modeling_utils.py" <<'PY'
# Stub: only imported by name; the conversion functions never call it.
def load_state_dict(*a, **k):
    raise NotImplementedError("shim: no model loading")
PY
cat > "$OUT/diffusers/schedulers/__init__.py" <<'PY'
# Stub scheduler classes (imported by name for the legacy scheduler loader, which the conversion does not use).
class _Stub:
    pass
DDIMScheduler = DPMSolverMultistepScheduler = EDMDPMSolverMultistepScheduler = EulerAncestralDiscreteScheduler = _Stub
EulerDiscreteScheduler = HeunDiscreteScheduler = LMSDiscreteScheduler = PNDMScheduler = _Stub
PY
cat > "$OUT/diffusers/utils/__init__.py" <<'PY'
# Stub utils: names single_file_utils imports; logging is the standard library's.
import logging as _logging
SAFETENSORS_WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
WEIGHTS_NAME = "diffusion_pytorch_model.bin"
def deprecate(*a, **k):
    return None
def is_accelerate_available():
    return False
def is_transformers_available():
    return False
class logging:
    @staticmethod
    def get_logger(name):
        return _logging.getLogger(name)
PY
echo 'DIFFUSERS_REQUEST_TIMEOUT = 60' > "$OUT/diffusers/utils/constants.py"
printf 'def _get_model_file(*a, **k):\n    raise NotImplementedError("shim: offline")\n' > "$OUT/diffusers/utils/hub_utils.py"
printf 'def empty_device_cache(*a, **k):\n    return None\n' > "$OUT/diffusers/utils/torch_utils.py"
cat > "$OUT/safetensors/__init__.py" <<'PY'
PY
cat > "$OUT/safetensors/torch.py" <<'PY'
# Stub: the reverse script imports these names; gen_singlefile.py reads and writes the format itself.
def load_file(*a, **k):
    raise NotImplementedError("shim")
def save_file(*a, **k):
    raise NotImplementedError("shim")
PY
# Stub: single_file_utils imports requests at module level to fetch remote YAML configs, which the conversion never
# does (and a venv without requests, such as the torch 2.13 one gen_openclip.py was run with, could not import it).
printf 'def get(*a, **k):\n    raise NotImplementedError("shim: offline")\n' > "$OUT/requests/__init__.py"
