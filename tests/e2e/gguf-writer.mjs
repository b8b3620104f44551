// A tiny GGUF v3 writer for test files: string/u32 metadata and F32 tensors.
const enc = new TextEncoder();

class Bytes {
  constructor() {
    this.parts = [];
    this.len = 0;
  }
  raw(u8) {
    this.parts.push(u8);
    this.len += u8.length;
  }
  u32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.raw(b);
  }
  u64(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.raw(b);
  }
  str(s) {
    const b = enc.encode(s);
    this.u64(b.length);
    this.raw(b);
  }
  concat() {
    const out = new Uint8Array(this.len);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const TYPE_U32 = 4;
const TYPE_STRING = 8;
const GGML_F32 = 0;

/**
 * The header of a GGUF v3 file (alignment 32), zero-padded to where tensor data starts.
 * metadata: [[key, value]] (string → GGUF string, number → u32); tensors: [{name, dims}] (F32).
 * Returns {header, dataBytes}: the file is `header` followed by `dataBytes` bytes of tensor data
 * (each tensor's bytes, zero-padded to 32).
 */
export function ggufHeader(metadata, tensors = []) {
  const h = new Bytes();
  h.raw(enc.encode('GGUF'));
  h.u32(3);
  h.u64(tensors.length);
  h.u64(metadata.length);
  for (const [k, v] of metadata) {
    h.str(k);
    if (typeof v === 'string') {
      h.u32(TYPE_STRING);
      h.str(v);
    } else {
      h.u32(TYPE_U32);
      h.u32(v);
    }
  }
  let off = 0;
  let end = 0;
  const offsets = [];
  for (const t of tensors) {
    h.str(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(GGML_F32);
    h.u64(off);
    offsets.push(off);
    end = off + 4 * t.dims.reduce((a, b) => a * b, 1);
    off = Math.ceil(end / 32) * 32;
  }
  const raw = h.concat();
  if (tensors.length === 0) return { header: raw, dataBytes: 0, offsets };
  const header = new Uint8Array(Math.ceil(raw.length / 32) * 32);
  header.set(raw, 0);
  return { header, dataBytes: end, offsets };
}

/**
 * A whole GGUF file in memory (see ggufHeader); a tensor's data is its `values` (numbers, as
 * F32) when it has them, else zeros.
 */
export function writeGguf(metadata, tensors = []) {
  const { header, dataBytes, offsets } = ggufHeader(metadata, tensors);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  tensors.forEach((t, i) => {
    if (t.values) out.set(new Uint8Array(Float32Array.from(t.values).buffer), header.length + offsets[i]);
  });
  return out;
}
