#!/usr/bin/env bash
# Builds DJL's PyTorch JNI (libdjl_torch.so) against the torch of this machine's Python; called by run.sh on the
# device, usable on any Linux with torch, a C++17 compiler and the kit (tools/gpu/build/kit).
#
#   bash tools/gpu/build-jni.sh --kit DIR --work DIR --out FILE [--python PY] [--jobs N] [--how auto|cmake|gxx]
#                               [--torch-include DIR --torch-lib DIR --abi 0|1 --torch-version V]
#                               (the last four: no Python, headers and libraries given)
#
# 1. CMake, as DJL's build.sh does it, with CMAKE_PREFIX_PATH=torch.utils.cmake_prefix_path and the JNI headers
#    from the kit (the device has no JDK, so FindJNI is given the paths). A CUDA torch's CMake config wants the CUDA
#    toolkit (nvcc); without one it stops, and then:
# 2. the fallback: the same sources compiled and linked directly with the compiler, one process per file, with
#    the flags torch's CMake config would give (C++17, -fPIC, _GLIBCXX_USE_CXX11_ABI as torch was built).
#    With CUDA headers (cuda_runtime_api.h from a toolkit or pip's nvidia packages) it defines USE_CUDA like DJL's
#    cu* builds (then emptyCache works) and links torch_cuda/c10_cuda; if that fails it builds without USE_CUDA,
#    which only turns torchCudaEmptyCache and the separate-stream TorchScript path into no-ops — CUDA tensors and
#    kernels work either way, since DJL loads libtorch_cuda.so itself before the JNI.
# CXXFLAGS_EXTRA (environment) is added to every compile of the fallback, e.g. -I for headers torch's need.
set -uo pipefail

KIT= WORK= OUTLIB= PY=${PYTHON:-python3} JOBS=$(nproc 2>/dev/null || echo 4) HOW=auto
T_INC= T_LIB= ABI= TORCH_VERSION=
while [[ $# -gt 0 ]]; do
    case $1 in
        --kit) KIT=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --out) OUTLIB=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --how) HOW=$2; shift 2 ;;
        --torch-include) T_INC=$2; shift 2 ;;
        --torch-lib) T_LIB=$2; shift 2 ;;
        --abi) ABI=$2; shift 2 ;;
        --torch-version) TORCH_VERSION=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n $KIT && -n $WORK && -n $OUTLIB ]] || { echo "usage: see the header of $0" >&2; exit 2; }
say() { printf '[build-jni] %s\n' "$*"; }

NATIVE=djl/engines/pytorch/pytorch-native
[[ -f $KIT/$NATIVE/CMakeLists.txt && -f $KIT/jni/include/ai_djl_pytorch_jni_PyTorchLibrary.h ]] \
    || { say "kit incomplete: no DJL sources or JNI header in $KIT"; exit 3; }
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r "$KIT/djl" "$WORK/djl"
SRC=$WORK/$NATIVE
mkdir -p "$SRC/build/include" && cp "$KIT/jni/include/ai_djl_pytorch_jni_PyTorchLibrary.h" "$SRC/build/include/"
JNI_INC=$KIT/jni/include

# --- what torch is here -------------------------------------------------------------------------------------------
CMAKE_PREFIX= CUDA_INC=
if [[ -z $T_INC ]]; then
    vars=$("$PY" "$(dirname "${BASH_SOURCE[0]}")/torch_env.py") || { say "cannot import torch with $PY"; exit 4; }
    eval "$vars"
    T_INC=$TORCH_INC T_LIB=$TORCH_LIB ABI=$TORCH_CXX11_ABI CMAKE_PREFIX=$TORCH_CMAKE_PREFIX
fi
[[ -d $T_INC/torch && -d $T_LIB ]] || { say "no torch headers/libs at $T_INC, $T_LIB"; exit 4; }
ABI=${ABI:-1}
say "torch ${TORCH_VERSION:-?}: include $T_INC, lib $T_LIB, cxx11 abi $ABI, cuda headers ${CUDA_INC:-none}"

# DJL's build.sh: PT_VERSION=V1_13_X only for 1.13.1/2.0.1/2.1.*; newer torch needs none
PT_DEF=
case $TORCH_VERSION in 1.13.1|2.0.1|2.1.*) PT_DEF=V1_13_X ;; esac

try_cmake() {
    command -v cmake >/dev/null || { say "cmake: not installed"; return 1; }
    [[ -n $CMAKE_PREFIX ]] || { say "cmake: no torch cmake prefix"; return 1; }
    local b=$SRC/build
    say "cmake: configure"
    cmake -S "$SRC" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX" \
        -DPT_VERSION="$PT_DEF" ${CUDA_INC:+-DUSE_CUDA=1} \
        -DJAVA_INCLUDE_PATH="$JNI_INC" -DJAVA_INCLUDE_PATH2="$JNI_INC" -DJAVA_AWT_INCLUDE_PATH=NotNeeded \
        -DJAVA_AWT_LIBRARY=NotNeeded -DJAVA_JVM_LIBRARY=NotNeeded || return 1
    CONFIGURED=1
    say "cmake: build (-j $JOBS)"
    cmake --build "$b" -- -j "$JOBS" || return 1
    [[ -f $b/libdjl_torch.so ]] && cp "$b/libdjl_torch.so" "$WORK/libdjl_torch.so"
}

try_gxx() { # $1 = 1 to build with USE_CUDA
    local cuda=$1 cxx=${CXX:-}
    [[ -n $cxx ]] || cxx=$(command -v g++ || command -v c++ || command -v clang++ || true)
    [[ -n $cxx ]] || { say "no C++ compiler (g++/c++/clang++)"; return 1; }
    local o=$WORK/obj$cuda; rm -rf "$o"; mkdir -p "$o"
    local flags=(-std=c++17 -O2 -fPIC -DNDEBUG -w -D_GLIBCXX_USE_CXX11_ABI="$ABI"
        -I"$SRC/build/include" -I"$JNI_INC" -I"$WORK/djl/api/src/main/native"
        -I"$T_INC" -I"$T_INC/torch/csrc/api/include")
    [[ -n $PT_DEF ]] && flags+=(-D"$PT_DEF")
    local libs=(-L"$T_LIB" -Wl,-rpath,"$T_LIB" -ltorch -ltorch_cpu -lc10)
    if (( cuda )); then
        flags+=(-DUSE_CUDA -I"$CUDA_INC")
        libs+=(-ltorch_cuda -lc10_cuda)
    fi
    say "$cxx: compiling $(ls "$SRC"/src/main/native/*.cc | wc -l) files, $JOBS at a time, USE_CUDA=$cuda"
    export CXXBIN=$cxx O=$o CXXFLAGS_EXTRA=${CXXFLAGS_EXTRA:-}
    printf '%s\n' "${flags[@]}" > "$o/flags"
    ls "$SRC"/src/main/native/*.cc | xargs -P "$JOBS" -I{} bash -c \
        'f={}; n=$(basename "$f" .cc); mapfile -t fl < "$O/flags"
         "$CXXBIN" "${fl[@]}" $CXXFLAGS_EXTRA -c "$f" -o "$O/$n.o" 2> "$O/$n.err" && exit 0
         echo "FAILED $n.cc:"; grep -m 6 -E "error|required from here" "$O/$n.err" | cut -c1-400; exit 1' \
        || return 1
    say "linking"
    "$cxx" -shared -o "$WORK/libdjl_torch.so" "$o"/*.o "${libs[@]}" || return 1
}

direct() { # with USE_CUDA where CUDA headers exist, else (or if that fails) without
    if [[ -n $CUDA_INC ]]; then
        try_gxx 1 && return 0
        say "USE_CUDA build failed; building without USE_CUDA"
    fi
    try_gxx 0
}

T0=$(date +%s)
ok=1
case $HOW in
    cmake) try_cmake; ok=$? ;;
    gxx) direct; ok=$? ;;
    auto)
        CONFIGURED=0
        if try_cmake; then ok=0
        elif (( CONFIGURED )); then
            # the sources themselves did not compile; the same compile again only helps if CUDA headers were the cause
            if [[ -n $CUDA_INC ]]; then say "cmake build failed; fallback: direct compile without USE_CUDA"; try_gxx 0; ok=$?; fi
        else
            say "cmake route unavailable; fallback: direct compile"
            direct; ok=$?
        fi ;;
    *) say "unknown --how $HOW"; exit 2 ;;
esac
if (( ok != 0 )) || [[ ! -f $WORK/libdjl_torch.so ]]; then
    say "FAILED after $(( $(date +%s) - T0 )) s"
    exit 1
fi
# every native method of PyTorchLibrary must be exported (a missing one fails only when called)
if command -v nm >/dev/null; then
    want=$(grep -c '^JNIEXPORT' "$KIT/jni/include/ai_djl_pytorch_jni_PyTorchLibrary.h")
    have=$(nm -D --defined-only "$WORK/libdjl_torch.so" | grep -c ' T Java_ai_djl_pytorch_jni_PyTorchLibrary_')
    say "exports $have of the header's $want JNI functions"
    (( have == want )) || say "WARNING: JNI functions missing from the library"
fi
mkdir -p "$(dirname "$OUTLIB")" && cp "$WORK/libdjl_torch.so" "$OUTLIB"
say "built $OUTLIB ($(stat -c %s "$OUTLIB") bytes) in $(( $(date +%s) - T0 )) s"
