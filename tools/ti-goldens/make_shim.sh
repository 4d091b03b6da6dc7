#!/bin/sh
# Builds a minimal importable "diffusers" package holding diffusers' real textual-inversion loader
# (src/diffusers/loaders/textual_inversion.py), unchanged, so that gen_ti.py can call
# TextualInversionLoaderMixin.load_textual_inversion and maybe_convert_prompt with transformers' real CLIPTokenizer
# and CLIPTextModel. Stubbed: diffusers.utils (logging from stdlib; _get_model_file, which is never reached because
# the embedding is passed as a state dict; is_accelerate_available → False, is_transformers_available → True) and
# models.modeling_utils.load_state_dict (never reached either).
# usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; OUT=$2; REV=${3:-HEAD}
rm -rf "$OUT/diffusers"
mkdir -p "$OUT/diffusers/utils" "$OUT/diffusers/loaders" "$OUT/diffusers/models"
git --git-dir="$SRC" rev-parse "$REV" > "$OUT/diffusers/REVISION"
git --git-dir="$SRC" show "$REV:src/diffusers/__init__.py" | grep '^__version__ = ' > "$OUT/diffusers/__init__.py"
: > "$OUT/diffusers/loaders/__init__.py"
git --git-dir="$SRC" show "$REV:src/diffusers/loaders/textual_inversion.py" > "$OUT/diffusers/loaders/textual_inversion.py"
: > "$OUT/diffusers/models/__init__.py"
cat > "$OUT/diffusers/models/modeling_utils.py" <<'PY'
def load_state_dict(*args, **kwargs):
    raise RuntimeError("shim: gen_ti.py passes state dicts, files are never loaded here")
PY
cat > "$OUT/diffusers/utils/__init__.py" <<'PY'
import logging as _stdlog
class logging:
    @staticmethod
    def get_logger(name):
        return _stdlog.getLogger(name)
def _get_model_file(*args, **kwargs):
    raise RuntimeError("shim: gen_ti.py passes state dicts, files are never loaded here")
def is_accelerate_available():
    return False
def is_transformers_available():
    return True
PY
