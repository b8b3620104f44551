#!/usr/bin/env python3
"""Reference Q4_K / Q6_K rows for tests/kquants.rs: random blocks (with finite f16 scales)
dequantized by gguf-py (`gguf.quants.dequantize`), written as hex bytes and float values.

Usage: python tools/kquants_reference.py > tests/data/kquants/reference.json
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

rng = np.random.default_rng(6)
out = {}
for name, ty, nbytes, d_offsets in (("Q4_K", T.Q4_K, 144, (0, 2)), ("Q6_K", T.Q6_K, 210, (208,))):
    blocks = rng.integers(0, 256, size=(3, nbytes), dtype=np.uint8)
    for b in blocks:
        for off in d_offsets:
            b[off:off + 2] = np.frombuffer(np.float16(rng.uniform(-0.05, 0.05)).tobytes(), np.uint8)
    raw = blocks.reshape(-1)
    values = quants.dequantize(raw, ty).reshape(-1)
    out[name] = {"hex": raw.tobytes().hex(), "values": [float(v) for v in values]}
json.dump(out, sys.stdout)
print()
