#!/usr/bin/env python3
"""Independent check of `bitlens stats`: norm gamma statistics of GGUF files, with numpy.

A minimal GGUF v2/v3 reader of its own (gguf-py rejects the bitnet.cpp fork's type 36), so the
numbers pasted into tests/common/norm_fixture_values.rs do not come from the Rust code.

usage: python tools/norm_stats.py FILE.gguf...
"""
import struct
import sys

import numpy as np

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
FLOAT_TYPES = {0: np.float32, 1: np.float16}  # 30 (BF16) handled below


def read(path):
    b = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n].decode()
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])

    assert b[:4] == b"GGUF"
    pos = 4
    take("<I")
    n_t, n_kv = take("<Q"), take("<Q")
    md = {}
    for _ in range(n_kv):
        k = string()
        md[k] = value(take("<I"))
    tensors = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        tensors.append((name, dims, take("<I"), take("<Q")))
    align = md.get("general.alignment", 32)
    data = (pos + align - 1) // align * align
    return b, md, tensors, data


def gammas(b, t, data):
    name, dims, typ, off = t
    n = int(np.prod(dims))
    start = data + off
    if typ == 0:
        return np.frombuffer(b, np.float32, n, start).astype(np.float64)
    if typ == 1:
        return np.frombuffer(b, np.float16, n, start).astype(np.float64)
    if typ == 30:
        raw = np.frombuffer(b, np.uint16, n, start).astype(np.uint32) << 16
        return raw.view(np.float32).astype(np.float64)
    raise ValueError(f"{name}: type {typ}")


for path in sys.argv[1:]:
    b, md, tensors, data = read(path)
    print("==", path, md.get("general.architecture"))
    for t in tensors:
        name, dims = t[0], t[1]
        if not (len(dims) == 1 and name.endswith("norm.weight")):
            continue
        v = gammas(b, t, data)
        n = v.size
        rms = float(np.sqrt(np.mean(v * v)))
        pre = abs(rms - 1 / np.sqrt(n)) <= 0.15 / np.sqrt(n)
        print(f"{name} type={t[2]} n={n} mean={float(v.mean())!r} std={float(v.std())!r} rms={rms!r} "
              f"min={float(v.min())!r} max={float(v.max())!r} rms_sqrt_n={float(rms * np.sqrt(n))!r} prescaled={pre}")
