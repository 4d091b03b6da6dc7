"""The safetensors format read and written with numpy and torch only (Debian has no python3-safetensors): a u64-le
header length, a JSON header {key: {dtype, shape, data_offsets}}, raw little-endian bytes. Shared by the golden
generators under tools/ (float32, float64 and int64 tensors)."""
import json
import struct

import numpy as np
import torch

_DT = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def write_safetensors(tensors, path, metadata=None):
    """safetensors format: u64-le header length, JSON header {key: {dtype, shape, data_offsets}}, raw LE bytes."""
    header = {}
    blobs = []
    off = 0
    for k in sorted(tensors):
        t = tensors[k].detach().contiguous().cpu()
        code, npdt = _DT[t.dtype]
        b = t.numpy().astype(npdt, copy=False).tobytes()
        header[k] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    rev = {v[0]: (k, v[1]) for k, v in _DT.items()}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        dt, npdt = rev[v["dtype"]]
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=npdt).reshape(v["shape"]).copy()
        out[k] = torch.from_numpy(arr)
    return out
