#!/usr/bin/env bash
# Writes tests/data/smollm2/SmolLM2-135M-Instruct.Q4_1.json: what gguf-py's GGUFReader reads in
# the real SmolLM2 file (arrays over 64 elements summarized by length, head and sha256).
# Needs a Python with `gguf` (e.g. /work/.cache/venv-gguf/bin/python via PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
gguf_file="$(bash scripts/fetch-smollm2.sh)"
mkdir -p tests/data/smollm2
"$PY" tools/gguf-py/dump_json.py "$gguf_file" tests/data/smollm2/SmolLM2-135M-Instruct.Q4_1.json \
  --summarize-over 64 --dequant-max 0 \
  --dequant-rows token_embd.weight=0,1,2,1000,49151 \
  --dequant-rows blk.0.ffn_down.weight=0,575 \
  --dequant-rows blk.29.attn_q.weight=0,100,575
