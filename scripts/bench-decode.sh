#!/usr/bin/env bash
# Prints decode speed in headless Chromium at BitNet b1.58 2B-4T's shapes (ms per layer, head,
# ms/token, tokens/s) and per-kernel times, scalar against simd128. Not a test: nothing about
# time is asserted. Release build of tests/web_bench.rs (its benchmarks are #[ignore]d so that
# `npm test` skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT="${WASM_BINDGEN_TEST_DRIVER_TIMEOUT:-60}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! wasm-pack test --release --headless --chrome --chromedriver "$(command -v chromedriver)" \
  -- --no-default-features --test web_bench -- --include-ignored --nocapture >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench-decode: the benchmark run failed" >&2
  exit 1
fi
grep -o 'bench: .*' "$log" || { cat "$log" >&2; echo "bench-decode: no figures printed" >&2; exit 1; }
