#!/bin/sh
# Builds a minimal importable "diffusers" package holding diffusers' real LoRA key conversion sources
# (src/diffusers/loaders/lora_conversion_utils.py and src/diffusers/utils/state_dict_utils.py), unchanged, so that
# gen_lora.py runs with Debian's torch 1.13.1 and numpy only. Stubbed: diffusers.utils' package init (logging and the
# one helper lora_conversion_utils imports from it, re-exported from the real state_dict_utils), import_utils
# (is_torch_available → True) and logging (stdlib).
# usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; OUT=$2; REV=${3:-HEAD}
rm -rf "$OUT/diffusers"
mkdir -p "$OUT/diffusers/utils" "$OUT/diffusers/loaders"
git --git-dir="$SRC" rev-parse "$REV" > "$OUT/diffusers/REVISION"
git --git-dir="$SRC" show "$REV:src/diffusers/__init__.py" | grep '^__version__ = ' > "$OUT/diffusers/__init__.py"
: > "$OUT/diffusers/loaders/__init__.py"
git --git-dir="$SRC" show "$REV:src/diffusers/loaders/lora_conversion_utils.py" > "$OUT/diffusers/loaders/lora_conversion_utils.py"
git --git-dir="$SRC" show "$REV:src/diffusers/utils/state_dict_utils.py" > "$OUT/diffusers/utils/state_dict_utils.py"
printf 'def is_torch_available():\n    return True\n' > "$OUT/diffusers/utils/import_utils.py"
cat > "$OUT/diffusers/utils/logging.py" <<'PY'
import logging as _logging
def get_logger(name):
    return _logging.getLogger(name)
PY
cat > "$OUT/diffusers/utils/__init__.py" <<'PY'
from . import logging
from .state_dict_utils import state_dict_all_zero
PY
