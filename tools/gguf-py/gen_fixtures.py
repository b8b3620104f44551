#!/usr/bin/env python3
"""Writes small GGUF files with gguf-py (the llama.cpp project's own writer) and, for each, the
JSON of what gguf-py's GGUFReader reads back (dump_json.py). tests/gguf_py_parity.rs compares
our reader with those dumps, so the tests need no Python.

Run:  python3 -m venv /work/.cache/venv-gguf && /work/.cache/venv-gguf/bin/pip install gguf
      /work/.cache/venv-gguf/bin/python tools/gguf-py/gen_fixtures.py
Output: tests/data/gguf-py/*.gguf and *.json, plus dumps of the shared fixtures in tests/fixtures/.

Two things gguf-py's writer cannot do are done with the smallest possible override, said here:
- empty arrays: GGUFWriter refuses them, so `EmptyArrayWriter._pack_val` writes element type and
  count 0 for an empty list (exactly the GGUF encoding);
- version 2: the writer always writes GGUF_VERSION; v2.gguf is written with the module constant
  set to 2 (v2 and v3 share one layout). GGUFReader reads both.
"""
import os
import sys

import numpy as np
import gguf
import gguf.gguf_writer
from gguf import GGUFValueType as VT, GGMLQuantizationType as QT
from gguf import quants

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_json  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "gguf-py")
RNG = np.random.default_rng(20261127)


class EmptyArrayWriter(gguf.GGUFWriter):
    def _pack_val(self, val, vtype, add_vtype, sub_type=None):
        if vtype == VT.ARRAY and len(val) == 0:
            head = self._pack("I", vtype) if add_vtype else b""
            return head + self._pack("I", sub_type) + self._pack("Q", 0)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


def finish(w, name):
    path = os.path.join(OUT, name)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    dump_json.write(dump_json.dump(path), path[:-5] + ".json")
    print(name, os.path.getsize(path), "bytes")


def values_file():
    w = EmptyArrayWriter(os.path.join(OUT, "values.gguf"), "llama")
    scalars = [
        ("u8", VT.UINT8, [0, 255]), ("i8", VT.INT8, [-128, 127]),
        ("u16", VT.UINT16, [0, 65535]), ("i16", VT.INT16, [-32768, 32767]),
        ("u32", VT.UINT32, [0, 2**32 - 1]), ("i32", VT.INT32, [-2**31, 2**31 - 1]),
        ("f32", VT.FLOAT32, [0.1, -0.0, 3.4028234663852886e38, 1e-45, float("inf"), float("nan")]),
        ("bool", VT.BOOL, [True, False]),
        ("string", VT.STRING, ["", "hello", "ünïcødé ✓ 😀", "quote \" backslash \\ nl \n tab \t"]),
        ("u64", VT.UINT64, [0, 2**64 - 1, 2**53 + 1]), ("i64", VT.INT64, [-2**63, 2**63 - 1]),
        ("f64", VT.FLOAT64, [np.pi, -1e-300, 1e300, float("-inf")]),
    ]
    for name, vt, vals in scalars:
        for i, v in enumerate(vals):
            w.add_key_value(f"test.{name}.{i}", v, vt)
        w.add_key_value(f"test.array.{name}", vals, VT.ARRAY, sub_type=vt)
        w.add_key_value(f"test.empty.{name}", [], VT.ARRAY, sub_type=vt)
    long_f32 = RNG.standard_normal(300).astype(np.float32).tolist()
    w.add_key_value("test.array.long_f32", long_f32, VT.ARRAY, sub_type=VT.FLOAT32)
    w.add_key_value("test.array.long_str", [f"tok{i}" for i in range(100)], VT.ARRAY,
                    sub_type=VT.STRING)
    w.add_tensor("one", np.arange(4, dtype=np.float32))
    finish(w, "values.gguf")


def quantized(w, name, qt, rows, ne0):
    x = (RNG.standard_normal((rows, ne0)) * 0.5).astype(np.float32)
    if qt in (QT.F16,):
        w.add_tensor(name, x.astype(np.float16))
    elif qt == QT.F32:
        w.add_tensor(name, x)
    else:
        q = quants.quantize(x, qt)
        w.add_tensor(name, q, raw_dtype=qt)


def raw_bytes(w, name, qt, ne):
    """A tensor of a type gguf-py cannot quantize to: random bytes of the right size."""
    block, size = gguf.GGML_QUANT_SIZES[qt]
    n = int(np.prod(ne))
    data = RNG.integers(0, 256, n // block * size, dtype=np.uint8)
    # The writer takes the byte shape (rows, bytes per row) and derives ne from it.
    w.add_tensor(name, data.reshape(int(np.prod(ne[1:])), ne[0] // block * size), raw_dtype=qt)


def types_file():
    w = gguf.GGUFWriter(os.path.join(OUT, "types.gguf"), "llama")
    w.add_name("tensor types")
    for qt in [QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1,
               QT.TQ1_0, QT.TQ2_0]:
        quantized(w, f"q.{qt.name}", qt, 2, 256)
    ints = {QT.I8: np.int8, QT.I16: np.int16, QT.I32: np.int32, QT.I64: np.int64}
    for qt, dt in ints.items():
        w.add_tensor(f"int.{qt.name}", RNG.integers(-100, 100, (3, 5)).astype(dt))
    w.add_tensor("float.F64", RNG.standard_normal((2, 3)).astype(np.float64))
    for qt in [QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K, QT.Q8_K, QT.IQ4_NL, QT.IQ4_XS,
               QT.IQ2_XXS, QT.IQ1_S, QT.MXFP4]:
        block = gguf.GGML_QUANT_SIZES[qt][0]
        raw_bytes(w, f"raw.{qt.name}", qt, [block * 2, 3])
    # Shapes: 1-D, 3-D, 4-D and a zero-element tensor.
    w.add_tensor("shape.1d", np.ones(7, dtype=np.float32))
    w.add_tensor("shape.3d", np.ones((2, 3, 4), dtype=np.float32))
    w.add_tensor("shape.4d", np.ones((2, 1, 3, 2), dtype=np.float16))
    finish(w, "types.gguf")


def aligned_file(alignment):
    w = gguf.GGUFWriter(os.path.join(OUT, f"align{alignment}.gguf"), "llama")
    w.add_custom_alignment(alignment)
    for i, n in enumerate([3, 5, 1, 17]):
        w.add_tensor(f"t{i}", np.full(n, i, dtype=np.float16))
    w.add_tensor("q", quants.quantize(np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32),
                                      QT.Q8_0), raw_dtype=QT.Q8_0)
    finish(w, f"align{alignment}.gguf")


def no_tensors_file():
    w = gguf.GGUFWriter(os.path.join(OUT, "no-tensors.gguf"), "llama")
    w.add_name("metadata only")
    w.add_uint32("llama.context_length", 128)
    finish(w, "no-tensors.gguf")


def v2_file():
    saved = gguf.gguf_writer.GGUF_VERSION
    gguf.gguf_writer.GGUF_VERSION = 2
    try:
        w = gguf.GGUFWriter(os.path.join(OUT, "v2.gguf"), "llama")
        w.add_name("version 2")
        w.add_array("test.tokens", ["a", "b", "c"])
        w.add_tensor("w", quants.quantize(np.ones((1, 32), dtype=np.float32), QT.Q4_0),
                     raw_dtype=QT.Q4_0)
        finish(w, "v2.gguf")
    finally:
        gguf.gguf_writer.GGUF_VERSION = saved


def shared_fixture_dumps():
    for name in ["bitnet-b158-tiny-i2_s.gguf", "bitnet-tiny-tq2_0.gguf"]:
        src = os.path.join(ROOT, "tests", "fixtures", name)
        d = dump_json.dump(src, summarize_over=None, dequant_max=0)
        dump_json.write(d, os.path.join(OUT, "fixture-" + name[:-5] + ".json"))
        print("dumped", name, d["notes"])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    values_file()
    types_file()
    for a in (1, 32, 64):
        aligned_file(a)
    no_tensors_file()
    v2_file()
    shared_fixture_dumps()
