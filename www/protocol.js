// The worker protocol, in one place: every message name and shape between the page (api.js)
// and the worker (worker.js), which both import this module. Every request carries an `id`
// chosen by the page; every reply carries the `id` of its request.
//
// Requests (page → worker):
//   {id, type: OPEN, source, name, cache}     source: {blob} | {url}; the open's id is the
//                                              handle's id from then on. cache: keep a URL's
//                                              bytes in the Cache API (CACHE_NAME).
//   {id, type: ABORT, target}                 abandons the open `target` (it replies ERROR,
//                                              kind 'aborted'); no reply of its own.
//   {id, type: CLOSE, handle}                 → CLOSED. Frees the file once no handle names it.
//   {id, type: ARRAY, handle, key}            → ARRAY {array}: one metadata array in full.
//   {id, type: NORMS, handle, options}        → NORMS {report, corrections}; options: {rescale, strict}
//   {id, type: EXPORT, handle, options}       → EXPORT {blob, summary}
//   {id, type: GENERATE, handle, ...RUN}      → WAITING {ahead} when runs of other handles on
//                                                the same file come first (runs on one file
//                                                take turns: they share its runner; a handle's
//                                                new generation ends its own last one), then
//                                                RUN_INFO {info, build, modes, refused, promptIds, scores},
//                                                then TOKEN {mode, step, tokensPerS} per token,
//                                                alternating between modes, then
//                                                DONE {status: {mode: status}, stopped}
//   {id, type: SCORE, handle, ...RUN}         → SCORES {info, modes, refused, promptIds, scores}
//                                                (in its turn, as a generation, without WAITING)
//   {id, type: STOP, target}                  → STOPPED: ends the generation `target`
//   {id, type: BENCH_KERNELS, handle, passes} → BENCH_KERNELS {build, memoryBytes, kernels,
//                                                load}: the kernels' GB/s on the file's tensors
//                                                (null for passes 0), the wasm build, the wasm
//                                                memory held, the load's seconds and steps
// RUN = {prompt, chat, seed, maxTokens, temperature, topK, topP, repeatPenalty, isa, score,
//        modes, rescale, strict, threads}
// build (in RUN_INFO and SCORES) = {key, name, threads, maxThreads, why}: the wasm build, the
//        threads this run got (1..maxThreads, the threaded build's pool), and why there is only
//        one (null, or e.g. "1 thread: this page is not cross-origin isolated").
//
// Replies to an OPEN (worker → page), in order:
//   {id, type: PROGRESS, loaded, total}                   (any number of times)
//   {id, type: HEADER, info, metadata, tensors, memory}   before the data has finished
//                                                         (at once when shared); memory:
//                                                         estimateMemory's object or null
//   {id, type: LOADED, info, seconds, steps, from, check, shared} from: 'file' | 'network' |
//                                                         'cache'; check (a cached copy's
//                                                         only, else null): how it was checked
//                                                         against the server, {status:
//                                                         'not-modified' | 'offline' | 'http' |
//                                                         'unchecked', detail}; steps: ms per
//                                                         load step; shared: another handle had
//                                                         it open
// Any request can end in {id, type: ERROR, error: {message, kind}}.

export const MSG = Object.freeze({
  // requests
  OPEN: 'open',
  ABORT: 'abort',
  CLOSE: 'close',
  ARRAY: 'array',
  NORMS: 'norms',
  EXPORT: 'export',
  GENERATE: 'generate',
  SCORE: 'score',
  STOP: 'stop',
  BENCH_KERNELS: 'bench-kernels',
  // replies
  PROGRESS: 'progress',
  HEADER: 'header',
  LOADED: 'loaded',
  CLOSED: 'closed',
  WAITING: 'waiting',
  RUN_INFO: 'runInfo',
  TOKEN: 'token',
  DONE: 'done',
  SCORES: 'scores',
  STOPPED: 'stopped',
  ERROR: 'error',
});

/** The modes a run can have, in the order their tokens come. */
export const MODES = Object.freeze(['baseline', 'rescaled']);

/** The Cache API cache that holds models opened by URL. */
export const CACHE_NAME = 'bitlens-models';

/** An error as a plain, cloneable object: the Rust error's message and kind. */
export function plainError(e) {
  return {
    message: String(e && e.message !== undefined ? e.message : e),
    kind: (e && e.kind) || 'error',
  };
}

/** A plain error back as a JS Error with its `kind`. */
export function toError(error) {
  return Object.assign(new Error(error.message), { kind: error.kind });
}

/** An Error with a `kind`, as the wasm API throws them. */
export function kindError(kind, message) {
  return Object.assign(new Error(message), { kind });
}
