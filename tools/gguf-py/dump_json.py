#!/usr/bin/env python3
"""Dumps what gguf-py's GGUFReader sees in a GGUF file as JSON, for tests/gguf_py_parity.rs.

Usage: dump_json.py FILE OUT.json [--summarize-over N] [--dequant-max N] [--dequant-rows NAME=R,R..]...

Format (all integers exact; floats that JSON cannot hold are the strings "nan", "inf", "-inf"):
  gguf_py_version, file, file_size, version, tensor_count, kv_count, alignment,
  data_offset        gguf-py's (it pads even when there are no tensors; ggml does not)
  metadata[]         {key, type, value} or, for arrays, {key, type: "array", elem_type, len, value}
                     where an array longer than --summarize-over has instead of `value`:
                     {head: first 8 values, sha256: of its canonical JSON}
                     canonical JSON = json.dumps(list, separators=(',', ':'), ensure_ascii=False)
                     over the elements, with f32/f64 elements replaced by their IEEE bit patterns
                     (unsigned ints) and bools as true/false
  tensors[]          {name, type_id, type (gguf-py's name, null if it has none), shape (ne,
                     innermost first), n_elements, n_bytes (null if gguf-py has no size),
                     offset (relative to the data section), data_offset (absolute)}
  dequant{}          name -> gguf-py's dequantize() of small tensors, flattened (ne0 fastest)
  dequant_rows{}     name -> {rows, head (first 8 values), sha256 of the rows' values as
                     little-endian f32, concatenated}, from gguf-py's dequantize()
  notes[]            what gguf-py could not do on this file
"""
import hashlib
import json
import math
import os
import sys
from importlib.metadata import version as pkg_version

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGMLQuantizationType, GGML_QUANT_SIZES
from gguf import quants

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}
DEQUANT_TYPES = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "TQ1_0", "TQ2_0"}


def jfloat(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def jvalue(v, vtype):
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return jfloat(v)
    if vtype == GGUFValueType.BOOL:
        return bool(v)
    return v


def canonical(values, vtype):
    if vtype == GGUFValueType.FLOAT32:
        values = [int(b) for b in np.array(values, dtype=np.float32).view(np.uint32)]
    elif vtype == GGUFValueType.FLOAT64:
        values = [int(b) for b in np.array(values, dtype=np.float64).view(np.uint64)]
    elif vtype == GGUFValueType.BOOL:
        values = [bool(v) for v in values]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


class RawTensorReader(GGUFReader):
    """GGUFReader stops at a tensor type it cannot name (the fork's 36 = I2_S). This keeps its
    parse of the tensor table and records each entry as stored, without interpreting the type."""

    def _build_tensors(self, start_offs, fields):
        self.raw_tensors = []
        for field in fields:
            _name_len, name_data, _n_dims, dims, raw_dtype, offset_tensor = field.parts
            self.raw_tensors.append({
                "name": str(bytes(name_data), encoding="utf-8"),
                "type_id": int(raw_dtype[0]),
                "shape": [int(d) for d in dims],
                "offset": int(offset_tensor[0]),
                "data_offset": int(start_offs + offset_tensor[0]),
            })


def dump(path, summarize_over=None, dequant_max=1024, dequant_rows=None):
    notes = []
    try:
        r = GGUFReader(path)
        raw = None
    except ValueError as e:
        notes.append(f"GGUFReader failed on the tensor table ({e}); "
                     "tensor entries are gguf-py's raw parse, types uninterpreted")
        r = RawTensorReader(path)
        raw = r.raw_tensors
    out = {
        "gguf_py_version": pkg_version("gguf"),
        "file": os.path.basename(path),
        "file_size": os.path.getsize(path),
        "version": int(r.fields["GGUF.version"].contents()),
        "tensor_count": int(r.fields["GGUF.tensor_count"].contents()),
        "kv_count": int(r.fields["GGUF.kv_count"].contents()),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "metadata": [],
        "tensors": [],
        "dequant": {},
        "notes": notes,
    }
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        t = f.types[0]
        e = {"key": key, "type": TYPE_NAMES[t]}
        if t == GGUFValueType.ARRAY:
            et = f.types[-1] if len(f.types) > 1 else None
            vals = f.contents() if f.data else []
            e["elem_type"] = TYPE_NAMES[et] if et is not None else None
            e["len"] = len(vals)
            if summarize_over is not None and len(vals) > summarize_over:
                e["head"] = [jvalue(v, et) for v in vals[:8]]
                e["sha256"] = hashlib.sha256(canonical(vals, et).encode("utf-8")).hexdigest()
            else:
                e["value"] = [jvalue(v, et) for v in vals]
        else:
            e["value"] = jvalue(f.contents(), t)
        out["metadata"].append(e)
    if raw is not None:
        for t in raw:
            n = int(np.prod(t["shape"]))
            try:
                qt = GGMLQuantizationType(t["type_id"])
                block, size = GGML_QUANT_SIZES[qt]
                name, n_bytes = qt.name, n * size // block
            except ValueError:
                name, n_bytes = None, None
            out["tensors"].append({**t, "type": name, "n_elements": n, "n_bytes": n_bytes})
        return out
    for t in r.tensors:
        offset = int(t.field.parts[-1][0])
        name = t.tensor_type.name
        out["tensors"].append({
            "name": t.name,
            "type_id": int(t.tensor_type),
            "type": name,
            "shape": [int(d) for d in t.shape],
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "offset": offset,
            "data_offset": int(t.data_offset),
        })
        if name in DEQUANT_TYPES and t.n_elements <= dequant_max:
            vals = quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            out["dequant"][t.name] = [jfloat(v) for v in vals]
    for name, rows in (dequant_rows or {}).items():
        t = next(t for t in r.tensors if t.name == name)
        vals = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        vals = vals.reshape(-1, int(t.shape[0]))[rows]
        out.setdefault("dequant_rows", {})[name] = {
            "rows": rows,
            "head": [jfloat(v) for v in vals[0][:8]],
            "sha256": hashlib.sha256(vals.astype("<f4").tobytes()).hexdigest(),
        }
    return out


def write(obj, out_path):
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def main(argv):
    args = argv[1:]
    summarize = None
    if "--summarize-over" in args:
        i = args.index("--summarize-over")
        summarize = int(args[i + 1])
        del args[i:i + 2]
    dequant_max = 1024
    if "--dequant-max" in args:
        i = args.index("--dequant-max")
        dequant_max = int(args[i + 1])
        del args[i:i + 2]
    dequant_rows = {}
    while "--dequant-rows" in args:
        i = args.index("--dequant-rows")
        name, rows = args[i + 1].split("=")
        dequant_rows[name] = [int(x) for x in rows.split(",")]
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    write(dump(args[0], summarize, dequant_max, dequant_rows), args[1])


if __name__ == "__main__":
    main(sys.argv)
