// Which wasm build this browser runs, decided once: the threaded build (relaxed SIMD, its
// products' rows on a pool of Web Workers sharing the memory) where the page is cross-origin
// isolated and the browser has SharedArrayBuffer and relaxed SIMD; else the relaxed-SIMD
// build where the browser validates relaxed SIMD, else the baseline simd128 build.
// `?build=baseline|relaxed|threads` on the page (passed to the worker's URL) forces one.

/**
 * The smallest module using relaxed SIMD: one function whose body is three v128.const and
 * i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113), then drop.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3e, 0x01, 0x3c, 0x00, // code section: one body of 60 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // v128.const 0 (x3)
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0x1a, 0x0b, // drop, end
]);

/** The builds, best first: the name shown in the page and the package's module. */
export const BUILDS = {
  threads: { name: 'simd128 + relaxed SIMD + threads', module: './pkg-threads/bitlens.js' },
  relaxed: { name: 'simd128 + relaxed SIMD', module: './pkg-relaxed/bitlens.js' },
  baseline: { name: 'simd128', module: './pkg/bitlens.js' },
};

/** True where this browser can compile relaxed SIMD. */
export function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** The most threads a run may ask for: the hardware concurrency, at most 8. */
export const MAX_THREADS = 8;

export function defaultThreads() {
  return Math.max(1, Math.min(MAX_THREADS, globalThis.navigator?.hardwareConcurrency || 1));
}

/**
 * Why this page gets one thread: null where it can run the threaded build, else the sentence
 * the page shows.
 */
export function whyOneThread() {
  if (!globalThis.crossOriginIsolated) return '1 thread: this page is not cross-origin isolated';
  if (typeof SharedArrayBuffer !== 'function') return '1 thread: this browser has no SharedArrayBuffer';
  if (!hasRelaxedSimd()) return '1 thread: the threaded build needs relaxed SIMD, which this browser lacks';
  return null;
}

/**
 * The build to load, {key, why}: `forced` ('baseline' | 'relaxed' | 'threads') if given, else
 * the best supported; `why` says why a build is not the threaded one.
 */
export function chooseBuild(forced) {
  const why = whyOneThread();
  if (forced === 'threads' || (!forced && !why)) return { key: 'threads', why: null };
  if (forced === 'baseline' || (forced !== 'relaxed' && !hasRelaxedSimd())) return { key: 'baseline', why: why ?? `1 thread: ?build=${forced}` };
  return { key: 'relaxed', why: why ?? `1 thread: ?build=${forced}` };
}

/**
 * Imports and initializes the chosen build: the JS module (`mod`), the instance's exports
 * (`exports.memory` is its wasm memory), the build's key and name,
 * `threads` (the most threads a run may ask for: the threaded build's pool, which starts
 * here, else 1) and `why` (null, or why there is one thread).
 */
export async function loadWasm(forced) {
  const { key, why } = chooseBuild(forced);
  const mod = await import(new URL(BUILDS[key].module, import.meta.url).href);
  const exports = await mod.default();
  let threads = key === 'threads' ? defaultThreads() : 1;
  let reason = why;
  // A run's forward pass runs on the pool (the calling worker waits: src/kernels/par.rs,
  // `on_pool`), so a run of n threads needs a pool of n.
  if (threads > 1) {
    try {
      await mod.initThreadPool(threads);
    } catch (e) {
      // E.g. a Content-Security-Policy without blob: workers: the threaded build on one thread.
      threads = 1;
      reason = `1 thread: the thread pool did not start (${e?.message ?? e})`;
    }
  }
  return { key, name: BUILDS[key].name, mod, exports, threads, why: reason };
}
