#!/bin/sh
# Builds the UNet shim (tools/unet-goldens/make_shim.sh: diffusers' real UNet blocks, resnets, attention, ...) and
# adds diffusers' real AutoencoderKL sources (models/autoencoders/autoencoder_kl.py and vae.py, unchanged) so that
# gen_vae.py runs with nothing but torch (Debian's 1.13.1) and numpy.  Stubbed, non-numerical only: the
# autoencoders package __init__ (empty: it would import ~40 other autoencoders) and utils/accelerate_utils.py
# (apply_forward_hook returns the method unchanged, which is what the real one does without accelerate).
# usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; OUT=$2; REV=${3:-HEAD}
sh "$(dirname "$0")/../unet-goldens/make_shim.sh" "$SRC" "$OUT" "$REV"
mkdir -p "$OUT/diffusers/models/autoencoders"
: > "$OUT/diffusers/models/autoencoders/__init__.py"
for f in autoencoders/autoencoder_kl autoencoders/vae; do
  git --git-dir="$SRC" show "$REV:src/diffusers/models/$f.py" > "$OUT/diffusers/models/$f.py"
done
cat > "$OUT/diffusers/utils/accelerate_utils.py" <<'PY'
# Stub: the real apply_forward_hook returns the method unchanged when accelerate is not installed.
def apply_forward_hook(method):
    return method
PY
