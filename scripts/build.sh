#!/usr/bin/env bash
# Set-up (idempotent), then the release wasm package into www/pkg for the page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
wasm-pack build --target web --release --no-typescript --no-pack --out-dir www/pkg --out-name bitlens
