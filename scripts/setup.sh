#!/usr/bin/env bash
# Idempotent set-up for the two README commands. Installs only what is missing or at another
# version, and only from the package registries (crates.io, npm, Debian): wasm-opt is off in
# Cargo.toml, wasm-pack finds wasm-bindgen on PATH, chromedriver is Debian's.
#
#   scripts/setup.sh          wasm target, the threaded build's pinned nightly (rust-src and the
#                             wasm target), wasm-bindgen-cli, wasm-pack, npm packages
#   scripts/setup.sh --test   also Debian's chromium and chromium-driver (needs root or sudo)
set -euo pipefail

cd "$(dirname "$0")/.."
want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }

# cargo install puts binaries here; make them visible to this script and its callers.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# 1. The wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 1b. The threaded wasm build's pinned nightly (scripts/wasm-rustflags.sh names it), with
# rust-src (it rebuilds std with atomics) and the wasm target; every other build stays on stable.
nightly=$(scripts/wasm-rustflags.sh --toolchain threads)
if ! rustup run "$nightly" rustc --version >/dev/null 2>&1 ||
  ! rustup component list --toolchain "$nightly" --installed 2>/dev/null | grep -q '^rust-src' ||
  ! rustup target list --toolchain "$nightly" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "installing rust $nightly with rust-src and wasm32-unknown-unknown (the threaded wasm build)"
  rustup toolchain install "$nightly" --profile minimal --component rust-src \
    --target wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli at exactly the version Cargo.lock pins (the CLI and the crate must agree).
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$bindgen_version" ]; then
  echo "setup.sh: cannot read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bindgen" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (found '${have_bindgen:-none}'); this takes minutes"
  # Not --locked: one of its locked dependencies is no longer on crates.io.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force \
    --config profile.release.opt-level=1
fi

# 3. wasm-pack (any version; it drives cargo and the wasm-bindgen on PATH).
if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack; this takes minutes"
  cargo install wasm-pack --config profile.release.opt-level=1
fi

# 4. For tests: a real Chromium and its driver, from Debian.
if [ "$want_test" = 1 ]; then
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    say "installing chromium and chromium-driver from Debian"
    sudo_cmd=()
    if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
  fi
fi

# 5. npm packages (playwright-core only; it never downloads a browser here).
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
