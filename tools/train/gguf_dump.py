"""Minimal GGUF v3 reader used to check the exporter's output (keys, types, tensor table)."""
import struct
import sys

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(data):
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et = take("<I")
            n = take("<Q")
            return (et, [value(et) for _ in range(n)])
        return take(SCALAR[t])

    assert data[:4] == b"GGUF"
    pos = 4
    version = take("<I")
    n_tensors = take("<Q")
    n_kv = take("<Q")
    kv = []
    for _ in range(n_kv):
        k = string()
        t = take("<I")
        kv.append((k, t, value(t)))
    tensors = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        ty = take("<I")
        off = take("<Q")
        tensors.append((name, ne, ty, off))
    align = 32
    for k, t, v in kv:
        if k == "general.alignment":
            align = v
    data_start = (pos + align - 1) // align * align
    return version, kv, tensors, data_start


if __name__ == "__main__":
    blob = open(sys.argv[1], "rb").read()
    version, kv, tensors, data_start = read_gguf(blob)
    print("version", version, "n_kv", len(kv), "n_tensors", len(tensors), "data_start", data_start)
    for k, t, v in kv:
        if t == 9:
            et, items = v
            print(f"{k} [array of type {et}] n={len(items)} first={items[:5]}")
        else:
            print(f"{k} [type {t}] = {v!r}"[:200])
    for name, ne, ty, off in tensors:
        print(f"  {name} ne={ne} type={ty} off={off}")
