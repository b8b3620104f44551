#!/usr/bin/env bash
# Set-up (idempotent), then the release wasm packages for the page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Three builds, each in its own target dir so they do not rebuild each other (flags and
# toolchain in scripts/wasm-rustflags.sh): baseline simd128 (www/pkg), simd128 + relaxed SIMD
# (www/pkg-relaxed), and relaxed SIMD with threads (www/pkg-threads: atomics, shared memory,
# std rebuilt on the pinned nightly). www/wasm-build.js loads the best one the browser and the
# page allow.
build() {
  local e
  mapfile -t e < <(scripts/wasm-rustflags.sh --env "$1")
  env "${e[@]}" wasm-pack build --target web --release --no-typescript --no-pack --out-dir "$2" \
    --out-name bitlens
}
build baseline www/pkg
build relaxed www/pkg-relaxed
build threads www/pkg-threads
