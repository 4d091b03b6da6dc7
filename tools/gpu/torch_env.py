"""Prints, as shell assignments, where this Python's torch is and how it was built; build-jni.sh and run.sh eval it.

TORCH_VERSION (without +cu...), TORCH_FLAVOR (cu130 for CUDA 13.0, cpu), TORCH_INC, TORCH_LIB (real paths: torch
finds its CUDA libraries through $ORIGIN-relative RPATHs), TORCH_CXX11_ABI, TORCH_CMAKE_PREFIX, and for a CUDA
torch CUDA_INC (a folder with cuda_runtime_api.h: a toolkit or pip's nvidia packages) and CUDART (the libcudart
torch uses), each empty when not found.
"""
import glob
import os
import shlex

import torch

root = os.path.dirname(os.path.realpath(torch.__file__))
site = os.path.dirname(root)
cuda = torch.version.cuda


def first(patterns, want):
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if want(path):
                return os.path.realpath(path)
    return ""


toolkits = [p for p in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda") if p]
env = {
    "TORCH_VERSION": torch.__version__.split("+")[0],
    "TORCH_FLAVOR": "cu" + cuda.replace(".", "") if cuda else "cpu",
    "TORCH_INC": os.path.join(root, "include"),
    "TORCH_LIB": os.path.join(root, "lib"),
    "TORCH_CXX11_ABI": int(torch._C._GLIBCXX_USE_CXX11_ABI),
    "TORCH_CMAKE_PREFIX": torch.utils.cmake_prefix_path,
    "CUDA_INC": "",
    "CUDART": "",
}
if cuda:
    env["CUDA_INC"] = first([os.path.join(t, "include") for t in toolkits]
                            + [os.path.join(site, "nvidia", "*", "include"),
                               os.path.join(site, "nvidia", "*", "*", "include")],
                            lambda d: os.path.isfile(os.path.join(d, "cuda_runtime_api.h")))
    env["CUDART"] = first([os.path.join(site, "nvidia", "**", "libcudart.so*")]
                          + [os.path.join(t, "lib64", "libcudart.so*") for t in toolkits],
                          os.path.isfile)
for key, value in env.items():
    print("%s=%s" % (key, shlex.quote(str(value))))
