#!/bin/sh
# Builds an importable "modules" package around AUTOMATIC1111's own prompt sources, which must already be saved in
# A1111_DIR (the webui repository is too large to fetch here; the files were saved one by one, see README.md):
#   modules/prompt_parser.py   modules/sd_hijack_clip.py   modules/sd_emphasis.py
#   modules/infotext_parse.py (an excerpt of modules/infotext_utils.py, see README.md)
#   modules/sd_hijack_open_clip.py (for gen_sdxl_prompts.py only)
# Only infrastructure is stubbed: modules.shared (an `opts` namespace with A1111's defaults for the options these
# files read), modules.devices (CPU, no NPU), modules.sd_hijack (a hijack object with no textual-inversion
# embeddings).  usage: make_shim.sh A1111_DIR SHIM_DIR
set -e
SRC=$1; OUT=$2
mkdir -p "$OUT/modules"
for f in prompt_parser.py sd_hijack_clip.py sd_emphasis.py infotext_parse.py sd_hijack_open_clip.py; do
    if [ -f "$SRC/modules/$f" ]; then cp "$SRC/modules/$f" "$OUT/modules/$f"; else echo "missing $SRC/modules/$f" >&2; fi
done
: > "$OUT/modules/__init__.py"
cat > "$OUT/modules/shared.py" <<'PY'
# Stub: A1111's settings object; the values are webui's defaults (modules/shared_options.py) for the options read.
from types import SimpleNamespace
opts = SimpleNamespace(
    emphasis="Original",                 # "Original": weights applied, mean restored
    comma_padding_backtrack=20,          # tokens a chunk may hand over to the next one after the last comma
    use_old_emphasis_implementation=False,
    CLIP_stop_at_last_layers=1,          # set per run by the generator (clip skip)
    textual_inversion_add_hashes_to_infotext=True,
    infotext_styles="Apply",             # parse_generation_parameters: styles are looked up (none exist)
    use_old_hires_fix_width_height=False,
    infotext_skip_pasting=[],
    auto_backcompat=True,
)
class _NoStyles:
    """Stub of the style database with no styles: nothing is extracted from the prompts."""
    def extract_styles_from_prompt(self, prompt, negative_prompt):
        return [], prompt, negative_prompt
prompt_styles = _NoStyles()
PY
cat > "$OUT/modules/processing.py" <<'PY'
# Stub: only old_hires_fix_first_pass_dimensions is referenced (for "First pass size" infotexts, never written here).
def old_hires_fix_first_pass_dimensions(width, height):
    raise NotImplementedError
PY
cat > "$OUT/modules/infotext_versions.py" <<'PY'
# Stub of backcompat (it needs the `packaging` module, not installed here): the real one returns at once when the
# infotext has no parseable "Version" (this service writes none); for an older A1111 Version it only adds
# compatibility flags ("Pad conds v0", "Downcast alphas_cumprod", ...), which gen_infotext.py's consumers ignore.
def backcompat(d):
    pass
PY
cat > "$OUT/modules/devices.py" <<'PY'
# Stub: everything on the CPU.
import torch
device = torch.device("cpu")
def torch_npu_set_device():
    pass
PY
cat > "$OUT/modules/sd_hijack.py" <<'PY'
# Stub: no textual-inversion embeddings are loaded, so none is ever found in a prompt.
class _NoEmbeddings:
    def find_embedding_at_position(self, tokens, offset):
        return None, None
class StableDiffusionModelHijack:
    def __init__(self):
        self.fixes = None
        self.extra_generation_params = {}
        self.embedding_db = _NoEmbeddings()
PY
echo "shim in $OUT/modules"
