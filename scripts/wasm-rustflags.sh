#!/usr/bin/env bash
# The RUSTFLAGS of a wasm build, `baseline` (the same as .cargo/config.toml) or `relaxed`
# (relaxed SIMD too); with --target-dir, the cargo target dir of that build (its own for
# relaxed, so the two do not rebuild each other). RUSTFLAGS replaces the config's flags, so
# both are spelled out here.
set -euo pipefail
if [ "${1:-}" = --target-dir ]; then
  case "${2:-}" in
    baseline) echo target ;;
    relaxed) echo target/relaxed ;;
    *) echo "wasm-rustflags.sh: unknown build '${2:-}'" >&2; exit 2 ;;
  esac
  exit 0
fi
common='--cfg getrandom_backend="wasm_js"'
case "${1:-}" in
  baseline) echo "-C target-feature=+simd128 $common" ;;
  relaxed) echo "-C target-feature=+simd128,+relaxed-simd $common" ;;
  *) echo "wasm-rustflags.sh: unknown build '${1:-}'" >&2; exit 2 ;;
esac
