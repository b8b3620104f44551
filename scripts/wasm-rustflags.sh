#!/usr/bin/env bash
# The RUSTFLAGS of a wasm build: `baseline` (the same as .cargo/config.toml), `relaxed`
# (relaxed SIMD too) or `threads` (relaxed SIMD, atomics and a shared memory: the products'
# rows on a pool of Web Workers). RUSTFLAGS replaces the config's flags, so all are spelled
# out here. Other questions about a build:
#   --target-dir BUILD   its cargo target dir (each its own, so they do not rebuild each other)
#   --toolchain BUILD    the rustup toolchain it needs: empty (the default stable) or the
#                        pinned nightly (std is rebuilt with atomics: build-std)
#   --env BUILD          all of it as NAME=VALUE lines for `env` (RUSTFLAGS, CARGO_TARGET_DIR,
#                        and for threads RUSTUP_TOOLCHAIN and CARGO_UNSTABLE_BUILD_STD)
set -euo pipefail
# The pinned nightly of the threaded build (scripts/setup.sh installs it with rust-src and the
# wasm32 target when missing).
nightly=nightly-2026-05-20
flags() {
  local common='--cfg getrandom_backend="wasm_js"'
  case "$1" in
    baseline) echo "-C target-feature=+simd128 $common" ;;
    relaxed) echo "-C target-feature=+simd128,+relaxed-simd $common" ;;
    # A shared memory, imported (every Web Worker of the pool instantiates the module on it),
    # of at most 4 GiB (a 2B-4T file alone is 1.2 GB), and the thread-local storage symbols
    # wasm-bindgen's thread transform needs.
    threads)
      local link=(--shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls
        --export=__tls_size --export=__tls_align --export=__tls_base)
      echo "-C target-feature=+simd128,+relaxed-simd,+atomics,+bulk-memory,+mutable-globals ${link[*]/#/-C link-arg=} $common"
      ;;
    *) echo "wasm-rustflags.sh: unknown build '$1'" >&2; exit 2 ;;
  esac
}
target_dir() { if [ "$1" = baseline ]; then echo target; else echo "target/$1"; fi; }
toolchain() { if [ "$1" = threads ]; then echo "$nightly"; fi; }
case "${1:-}" in
  --target-dir) flags "${2:-}" >/dev/null && target_dir "$2" ;;
  --toolchain) flags "${2:-}" >/dev/null && toolchain "$2" ;;
  --env)
    flags "${2:-}" >/dev/null
    echo "RUSTFLAGS=$(flags "${2:-}")"
    echo "CARGO_TARGET_DIR=$(target_dir "$2")"
    if [ "$2" = threads ]; then
      echo "RUSTUP_TOOLCHAIN=$nightly"
      echo "CARGO_UNSTABLE_BUILD_STD=panic_abort,std"
    fi
    ;;
  *) flags "${1:-}" ;;
esac
