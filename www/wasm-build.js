// Which wasm build this browser runs, decided once: the relaxed-SIMD build where the browser
// validates relaxed SIMD, else the baseline simd128 build. `?build=baseline` or
// `?build=relaxed` on the page (passed to the worker's URL) forces one, for benchmarks.

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

/** The build to load: `forced` ('baseline' | 'relaxed') if given, else the best supported. */
export function chooseBuild(forced) {
  if (forced === 'baseline' || (forced !== 'relaxed' && !hasRelaxedSimd())) return 'baseline';
  return 'relaxed';
}

/**
 * Imports and initializes the chosen build: the build's key and name, the JS module (`mod`)
 * and the instance's exports (`exports.memory` is its wasm memory).
 */
export async function loadWasm(forced) {
  const key = chooseBuild(forced);
  const mod = await import(new URL(BUILDS[key].module, import.meta.url).href);
  const exports = await mod.default();
  return { key, name: BUILDS[key].name, mod, exports };
}
