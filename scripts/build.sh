#!/usr/bin/env bash
# Set-up (idempotent), then the release wasm package into www/pkg for the page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Two builds: baseline simd128 (www/pkg) and simd128 + relaxed SIMD (www/pkg-relaxed, its own
# target dir so the two do not rebuild each other); www/wasm-build.js loads the best one the
# browser validates.
wasm-pack build --target web --release --no-typescript --no-pack --out-dir www/pkg --out-name bitlens
CARGO_TARGET_DIR="$(scripts/wasm-rustflags.sh --target-dir relaxed)" \
  RUSTFLAGS="$(scripts/wasm-rustflags.sh relaxed)" \
  wasm-pack build --target web --release --no-typescript --no-pack --out-dir www/pkg-relaxed \
  --out-name bitlens
