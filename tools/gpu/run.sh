#!/usr/bin/env bash
# The device call (tools/gpu/README.md, step 2): run from the repository root on the GPU machine, with the kit
# carried (tools/gpu/build/kit, made by prepare.sh). Needs Python with torch there; no Java, no network.
#
#   bash tools/gpu/run.sh                 # on the device: results in $OUT
#   bash tools/gpu/run.sh --cpu-dry-run   # on the CPU machine: same steps, DJL's stock CPU libtorch and JNI
#
# Steps, each under a time limit inside one budget (GPU_KIT_BUDGET_S, default 560 s):
#   env     what is there: GPU, driver, torch/CUDA, diffusers, compiler, cmake
#   jre     unpack the kit's jlink'd runtime
#   jni     build DJL's JNI against this torch (build-jni.sh: CMake, fallback direct compile) and put it where DJL
#           looks for it: $DJL_CACHE_DIR/pytorch/<torch version>-<flavor>-linux-x86_64/0.36.0-libdjl_torch.so
#   smoke   the embedded tiny model on the GPU (fp16): engine, device, tokenizer natives, a full pipeline
#   sd15    Benchmark --config sd15 --device gpu --dtype float16 --size 512 --batches 2,8 with a 50-step image
#   sdxl    Benchmark --config sdxl --device gpu --dtype float16 --size 1024 --batches 2 (UNet step), budget permitting
#   anchor  if diffusers imports: diffusers' UNet2DConditionModel (SD1.5 config, random weights) eager and as a CUDA
#           graph on the same card (diffusers_anchor.py)
# Results (at most 8 small files) in $OUT: summary.txt, env.txt, run.log (tails of every step), jni-build.log,
# tiny.json, sd15.json, sdxl.json, anchor.json. DJL is pointed at the device's torch with PYTORCH_LIBRARY_PATH,
# PYTORCH_VERSION, PYTORCH_FLAVOR (see Dockerfile.cuda for why all three), DJL_OFFLINE=true, RUST_FLAVOR=cpu.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
KIT=${GPU_KIT_DIR:-$ROOT/tools/gpu/build/kit}
MODE=gpu
[[ ${1:-} == --cpu-dry-run ]] && MODE=cpu
BUDGET=${GPU_KIT_BUDGET_S:-560}
T0=$(date +%s)
OUT=${OUT:-$ROOT/tools/gpu/build/out}
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/gpukit.XXXXXX")
PY=${PYTHON:-python3}
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"; : > "$OUT/run.log"

note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
RESERVE=0   # seconds kept for the steps after the current one
# stage NAME CAP_S CMD...: runs CMD with a timeout of min(CAP_S, budget left - RESERVE); its output goes to
# $W/NAME.log, whose tail is appended to run.log; the status line goes to summary.txt
stage() {
    local name=$1 cap=$2; shift 2
    local l t s rc
    l=$(( $(left) - RESERVE )); t=$(( cap < l ? cap : l ))
    if (( t < 15 )); then note "$name: SKIPPED (budget: $(left) s left)"; return 124; fi
    s=$(date +%s)
    printf '\n===== %s (limit %d s, %d s into the run)\n' "$name" "$t" "$(( s - T0 ))" >> "$OUT/run.log"
    timeout -k 10 "$t" "$@" > "$W/$name.log" 2>&1; rc=$?
    local size; size=$(stat -c %s "$W/$name.log")
    if (( size > 12000 )); then
        head -c 2000 "$W/$name.log" >> "$OUT/run.log"; printf '\n[... %d bytes cut ...]\n' "$(( size - 10000 ))" >> "$OUT/run.log"
        tail -c 8000 "$W/$name.log" >> "$OUT/run.log"
    else
        cat "$W/$name.log" >> "$OUT/run.log"
    fi
    note "$name: rc=$rc in $(( $(date +%s) - s )) s$( ((rc == 124 || rc == 137)) && echo ' (TIMED OUT)')"
    return $rc
}

note "GPU kit run, mode $MODE, $(date -u +%FT%TZ), budget $BUDGET s"
[[ -f $KIT/jre.tar.xz ]] || { note "no kit at $KIT: run 'bash tools/gpu/prepare.sh' and carry tools/gpu/build/kit"; exit 3; }
head -2 "$KIT/MANIFEST.txt" >> "$SUMMARY"

# ---- env ------------------------------------------------------------------------------------------------------------
envinfo() {
    echo "host: $(uname -srm), $(nproc) cpus, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "glibc: $(ldd --version 2>&1 | head -1)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
    "$PY" - <<'EOF'
import importlib, os
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
          "cxx11abi", int(torch._C._GLIBCXX_USE_CXX11_ABI), "gpu available", torch.cuda.is_available())
    print("torch dir", os.path.dirname(torch.__file__))
    if torch.cuda.is_available():
        print("device", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
except Exception as e:
    print("torch: not importable:", e)
for m in ("diffusers", "transformers", "numpy"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as e:
        print(m, "not importable:", type(e).__name__)
EOF
    echo "compilers: $(command -v g++ c++ clang++ | tr '\n' ' ') $(g++ --version 2>/dev/null | head -1)"
    echo "cmake: $(cmake --version 2>/dev/null | head -1 || echo none)"
}
export -f envinfo; export PY
stage env 60 bash -c envinfo
cp "$W/env.log" "$OUT/env.txt"
HAS_DIFFUSERS=0
# diffusers installed there, or else the kit's shim of diffusers' own UNet sources (needs only torch and numpy)
if [[ $MODE == gpu && -d $KIT/shim ]] && ! "$PY" -c "import diffusers" >/dev/null 2>&1; then
    export PYTHONPATH=$KIT/shim${PYTHONPATH:+:$PYTHONPATH}
fi
if [[ $MODE == gpu ]] && "$PY" -c "import diffusers, torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
    HAS_DIFFUSERS=1
    RESERVE=120   # the anchor's time, kept from the steps before it
fi

# ---- jre ------------------------------------------------------------------------------------------------------------
# unpack with xz if it is there, else with Python's tarfile (Python is there: torch needs it)
unpack_jre() {
    if command -v xz >/dev/null; then
        xz -dc "$KIT/jre.tar.xz" | tar -x -C "$W" || return 1
    else
        "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$KIT/jre.tar.xz" "$W" || return 1
    fi
    "$W/jre/bin/java" -version || return 1
    # the libraries the benchmark loads (the desktop ones it does not use may miss X11/freetype: harmless)
    ldd "$W"/jre/lib/server/libjvm.so "$W"/jre/lib/{libjava,libzip,libnio,libawt,libawt_headless}.so | grep 'not found' || true
}
export -f unpack_jre; export KIT W
stage jre 60 bash -c unpack_jre
JAVA=$W/jre/bin/java
[[ -x $JAVA ]] || { note "no usable Java runtime: see run.log"; exit 5; }

# ---- libtorch and JNI --------------------------------------------------------------------------------------------
export DJL_CACHE_DIR=$W/djl-cache DJL_OFFLINE=true RUST_FLAVOR=cpu
unset ENGINE_CACHE_DIR
JVM_OPTS=(-Djava.awt.headless=true -Dorg.slf4j.simpleLogger.defaultLogLevel=info
    -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS
    -Dorg.slf4j.simpleLogger.log.ai.djl.pytorch.jni.LibUtils=debug)   # logs each native library it loads
if [[ $MODE == cpu ]]; then
    # DJL's stock CPU libtorch stands in for the device's torch; its stock JNI goes where the built one will go
    STOCK=$(ls -d "$HOME"/.djl.ai/pytorch/2.7.1-*-cpu-linux-x86_64 2>/dev/null | head -1)
    [[ -n $STOCK && -f $STOCK/libtorch.so ]] || { note "dry run needs DJL's CPU libtorch in ~/.djl.ai/pytorch (run the tests once)"; exit 6; }
    TORCH_LIB=$W/libtorch-cpu; mkdir -p "$TORCH_LIB"
    for f in "$STOCK"/*; do [[ $f == *djl_torch* ]] || ln -s "$f" "$TORCH_LIB/"; done
    export PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cpu
    JNI_DIR=$DJL_CACHE_DIR/pytorch/$PYTORCH_VERSION-$PYTORCH_FLAVOR-linux-x86_64
    mkdir -p "$JNI_DIR" && cp "$STOCK/0.36.0-libdjl_torch.so" "$JNI_DIR/0.36.0-libdjl_torch.so"
    note "jni: stock CPU JNI from $STOCK placed at \$DJL_CACHE_DIR/pytorch/$(basename "$JNI_DIR")/"
    DEV=(--device cpu --dtype float32)
    JVM_OPTS+=(-Xmx6g)
else
    vars=$("$PY" tools/gpu/torch_env.py) || { note "torch is not importable with $PY"; exit 4; }
    eval "$vars"
    export PYTORCH_VERSION=$TORCH_VERSION PYTORCH_FLAVOR=$TORCH_FLAVOR
    note "torch lib $TORCH_LIB, PYTORCH_VERSION=$PYTORCH_VERSION PYTORCH_FLAVOR=$PYTORCH_FLAVOR, cudart ${CUDART:-not found}"
    JNI_DIR=$DJL_CACHE_DIR/pytorch/$PYTORCH_VERSION-$PYTORCH_FLAVOR-linux-x86_64
    # DJL takes a JNI from torch's own folder before the cache: then the built one would not be used
    ls "$TORCH_LIB" | grep -q djl_torch && note "WARNING: $TORCH_LIB holds a libdjl_torch; DJL loads that one, not the one built here"
    # DJL counts GPUs through JNA-loaded "cudart" (CudaUtils); give it the runtime torch uses
    if [[ -n $CUDART ]]; then
        mkdir -p "$W/cudart" && ln -sf "$CUDART" "$W/cudart/libcudart.so"
        JVM_OPTS+=(-Djna.library.path="$W/cudart")
    fi
    stage jni 300 bash "$ROOT/tools/gpu/build-jni.sh" --kit "$KIT" --work "$W/jni" --out "$JNI_DIR/0.36.0-libdjl_torch.so" --python "$PY"
    tail -c 60000 "$W/jni.log" > "$OUT/jni-build.log"
    if [[ ! -f $JNI_DIR/0.36.0-libdjl_torch.so ]]; then
        note "jni: NOT BUILT (see jni-build.log); the Java steps are skipped"
    fi
    DEV=(--device gpu --dtype float16)
    JVM_OPTS+=(-Xmx24g)
fi
export PYTORCH_LIBRARY_PATH=$TORCH_LIB
export LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
CP="$KIT/lib/*:$ROOT/src/main/resources"
BENCH=("$JAVA" "${JVM_OPTS[@]}" -cp "$CP" dev.sdcfg.bench.Benchmark)

# ---- Java steps ---------------------------------------------------------------------------------------------------
if [[ -f $JNI_DIR/0.36.0-libdjl_torch.so ]]; then
    if [[ $MODE == cpu ]]; then
        stage smoke 240 "${BENCH[@]}" --config tiny "${DEV[@]}" --iters 2 --warmup 1 --batches 2 --steps 4 --out "$OUT/tiny.json" \
            && stage sd15 400 "${BENCH[@]}" --config sd15 "${DEV[@]}" --size 64 --batches 2 --iters 1 --warmup 0 --full false --out "$OUT/sd15.json"
    else
        stage smoke 120 "${BENCH[@]}" --config tiny "${DEV[@]}" --iters 3 --warmup 1 --batches 2 --steps 10 --out "$OUT/tiny.json" \
            && stage sd15 300 "${BENCH[@]}" --config sd15 "${DEV[@]}" --size 512 --batches 2,8 --iters 10 --warmup 3 --steps 50 \
                --full true --full-iters 3 --out "$OUT/sd15.json"
        # SDXL base shapes at 1024 px (random weights, 5 GB fp16): the UNet step only, if the budget still allows it
        # after SD1.5 (the anchor keeps its reserve); skipped or cut short, the SD1.5 figures stand alone
        if [[ -f $OUT/tiny.json ]]; then
            stage sdxl 150 "${BENCH[@]}" --config sdxl "${DEV[@]}" --size 1024 --batches 2 --iters 5 --warmup 2 \
                --full false --out "$OUT/sdxl.json"
        fi
    fi
fi
RESERVE=0

# ---- diffusers anchor ---------------------------------------------------------------------------------------------
if (( HAS_DIFFUSERS )); then
    stage anchor 240 "$PY" "$ROOT/tools/gpu/diffusers_anchor.py" --out "$OUT/anchor.json"
elif [[ $MODE == gpu ]]; then
    note "anchor: diffusers not importable (or no CUDA): skipped"
fi

# ---- summary --------------------------------------------------------------------------------------------------------
"$PY" - "$OUT" >> "$SUMMARY" 2>&1 <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n)
    return json.load(open(p)) if os.path.exists(p) else None
for n in ("tiny.json", "sd15.json", "sdxl.json"):
    r = load(n)
    if not r:
        continue
    line = ["%s: %s %s %s, %s px" % (n, r.get("engine"), r.get("device"), r.get("dtype"), r.get("image_size"))]
    for b, u in (r.get("unet_step") or {}).items():
        line.append("unet %s median %.2f ms (min %.2f), %s ops, host issue %.2f ms" % (
            b, u["median_ms"], u["min_ms"], u.get("ndarray_ops_per_forward"), u.get("host_issue_ms", float("nan"))))
    if r.get("text_encode_ms"):
        line.append("text encode %.2f ms" % r["text_encode_ms"]["median_ms"])
    if r.get("vae_decode_ms"):
        line.append("vae decode %.2f ms" % r["vae_decode_ms"]["median_ms"])
    if r.get("full_image"):
        f = r["full_image"]
        line.append("full %s-step %s image %.0f ms (min %.0f)" % (f["steps"], f["sampler"], f["median_ms"], f["min_ms"]))
    line.append("per-op us %s" % r.get("op_overhead_us"))
    print("\n  ".join(line))
a = load("anchor.json")
if a:
    print("anchor.json: diffusers %s, torch %s, %s" % (a.get("diffusers"), a.get("torch"), a.get("device")))
    for k, v in a.get("results", {}).items():
        print("  %s: %s" % (k, ", ".join("%s %s" % (x, y) for x, y in v.items())))
EOF
note "done in $(( $(date +%s) - T0 )) s; files: $(ls "$OUT" | tr '\n' ' ')"
rm -rf "$W"
