// The worker owns the wasm module, the GgufFiles and the model runners: the page posts
// requests in, results come back as plain objects (the messages are in protocol.js). A file
// streams from a File/Blob (File.slice chunks) or from a URL (the response body, or the Cache
// API's copy of it) straight into the buffer GgufFile allocates at the file's size, once the
// header says the file and its run fit in wasm memory. One worker serves every handle of the
// page: handles that open the same URL share one copy of the file.
import { CHUNK_BYTES, MEMORY_LIMITS, PROGRESS_INTERVAL_MS, READ_AHEAD_CHUNKS } from './config.js';
import { CACHE_NAME, MODES, MSG, kindError, plainError } from './protocol.js';
import { loadWasm } from './wasm-build.js';

// The threaded build where the page is cross-origin isolated, else the relaxed-SIMD build where
// the browser has it (`?build=` on the worker's URL forces one).
const wasmReady = loadWasm(new URL(self.location.href).searchParams.get('build'));
let GgufFile;
let ModelRunner;
let estimateMemory;
let wasmBuild;
wasmReady.then(({ key, name, mod, threads, why }) => {
  ({ GgufFile, ModelRunner, estimateMemory } = mod);
  wasmBuild = { key, name, maxThreads: threads, why };
});

/** The threads a run gets: as asked (default: all of the pool), within 1..the pool's size. */
function runThreads(asked) {
  const n = Math.floor(Number(asked ?? wasmBuild.maxThreads)) || 1;
  return Math.max(1, Math.min(wasmBuild.maxThreads, n));
}

/** fileKey → {file: GgufFile, url, handles: Set<handle id>, runner?: {key, runner, bytes}, seconds, from, check, memory} */
const files = new Map();
/** handle id → fileKey */
const handles = new Map();
/** url → the load in progress: {listeners: Set<open id>, promise} (shared by its openers) */
const urlLoads = new Map();
/** open id → {aborted} while the open is in progress */
const opening = new Map();
/**
 * generation or score id → {fileKey, handle, stopped, wake}: every run on a file, the one
 * running and those waiting for their turn
 */
const runs = new Map();
/** fileKey → a promise that the last run queued on the file has ended (runs take turns) */
const turns = new Map();
let nextFileKey = 1;

const post = (msg) => self.postMessage(msg);

/**
 * File.slice chunks, READ_AHEAD_CHUNKS of them being read while the current one is copied into
 * wasm memory (with one read in flight the worker waited for the browser after every chunk).
 */
async function* blobChunks(blob) {
  const read = (at) => {
    const p = blob.slice(at, Math.min(at + CHUNK_BYTES, blob.size)).arrayBuffer();
    p.catch(() => {}); // if the consumer stops early, a failed read-ahead is nobody's error
    return p;
  };
  const reads = [];
  let next = 0;
  const refill = () => {
    for (; reads.length < READ_AHEAD_CHUNKS && next < blob.size; next += CHUNK_BYTES) reads.push(read(next));
  };
  refill();
  while (reads.length > 0) {
    const buf = await reads.shift();
    refill();
    yield new Uint8Array(buf);
  }
}

async function* bodyChunks(body) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** A response as {size, chunks}: its body streamed when its length is known. */
async function responseSource(res) {
  const len = Number(res.headers.get('content-length'));
  if (res.body && res.headers.get('content-length') !== null && Number.isSafeInteger(len) && len >= 0 && !res.headers.get('content-encoding')) {
    return { size: len, chunks: bodyChunks(res.body) };
  }
  const blob = await res.blob();
  return { size: blob.size, chunks: blobChunks(blob) };
}

async function openCache() {
  try {
    return self.caches ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // no Cache API here (an opaque origin, storage disabled): load without it
  }
}

/**
 * The conditional request that asks whether a cached copy is still the server's file:
 * If-None-Match with its ETag, else If-Modified-Since with its Last-Modified; null when the
 * server gave neither (then the copy cannot be checked).
 */
function conditionalHeaders(cached) {
  const etag = cached.headers.get('etag');
  if (etag) return { 'If-None-Match': etag };
  const modified = cached.headers.get('last-modified');
  return modified ? { 'If-Modified-Since': modified } : null;
}

/**
 * A URL's bytes. With a cached copy (`useCache`), the server is asked first whether it changed
 * (a conditional GET): 304 → the copy, nothing downloaded; 200 → the new file, which replaces the
 * copy; no answer (offline) or an error status → the copy, saying so in `check`. Without one,
 * the network (its body teed into the cache when `useCache`). `forget()` drops the stored copy
 * again if the file turns out bad. `check` (cached copies only): {status: 'not-modified' |
 * 'offline' | 'http' | 'unchecked', detail}.
 */
async function urlSource(url, useCache) {
  const cache = useCache ? await openCache() : null;
  const hit = cache && (await cache.match(url).catch(() => undefined));
  let res;
  if (hit) {
    const fromCache = async (status, detail = '') => ({
      from: 'cache',
      check: { status, detail },
      ...(await responseSource(hit)),
      forget: () => cache.delete(url),
    });
    const headers = conditionalHeaders(hit);
    if (!headers) return fromCache('unchecked');
    try {
      // (A conditional request bypasses the HTTP cache: the 304 or the new file reaches us.)
      res = await fetch(url, { headers, cache: 'no-store' });
    } catch (e) {
      return fromCache('offline', String(e?.message ?? e));
    }
    if (res.status === 304) return fromCache('not-modified');
    if (!res.ok) return fromCache('http', `HTTP ${res.status}`);
  } else {
    // The Cache API copy is the one kept: not a second one in the HTTP cache.
    res = await fetch(url, { cache: cache ? 'no-store' : 'default' });
    if (!res.ok) throw kindError('http', `${url}: HTTP ${res.status}`);
  }
  let stored = Promise.resolve();
  if (cache && res.body) stored = cache.put(url, res.clone()).catch(() => {}); // quota: load anyway
  return {
    from: 'network',
    check: null,
    ...(await responseSource(res)),
    forget: () => stored.then(() => cache.delete(url)).catch(() => {}),
  };
}

/** Bytes of wasm memory the files of other handles hold. */
function bytesInUse() {
  let n = 0;
  for (const f of files.values()) n += f.file.total + (f.runner ? f.runner.bytes : 0);
  return n;
}

const MiB = (n) => `${(n / 1048576).toFixed(1)} MiB`;

/**
 * Refuses, with the numbers, a file whose bytes and runs cannot fit in wasm32 memory. (A file
 * over one allocation, 2 GiB - 1, was refused by `estimateMemory` already: the core decides.)
 */
function checkFits(name, est) {
  const { maxMemory, runtime } = MEMORY_LIMITS;
  const inUse = bytesInUse();
  const need = est.total + runtime;
  if (need + inUse > maxMemory) {
    const runs = est.runnable ? ` + ${est.modes} × ${MiB(est.perMode)} per mode (KV cache ${MiB(est.kvCache)} for ${est.nCtx} positions, activations ${MiB(est.activations)})` : '';
    const others = inUse > 0 ? `; other open files hold ${MiB(inUse)}` : '';
    throw kindError('too_large', `${name} needs about ${MiB(need)} of WebAssembly memory (file ${MiB(est.fileBytes)}${runs} + ${MiB(runtime)} scratch)${others}; a browser tab's WebAssembly memory holds at most 4 GiB`);
  }
}

/**
 * Reads chunks until the header is complete and estimates the memory the file needs (a bad
 * header throws here, before anything is allocated); then yields every chunk from the start.
 */
async function withHeader(size, chunks) {
  const it = chunks[Symbol.asyncIterator]();
  const held = [];
  let have = 0;
  const prefix = () => {
    const out = new Uint8Array(have);
    let at = 0;
    for (const c of held) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  };
  let est = estimateMemory(new Uint8Array(0), size, MODES.length);
  while (est.needMore !== undefined && have < size) {
    const { done, value } = await it.next();
    if (done) break;
    held.push(value);
    have += value.length;
    if (have >= est.needMore || have >= size) est = estimateMemory(prefix(), size, MODES.length);
  }
  async function* replay() {
    yield* held;
    for (;;) {
      const { done, value } = await it.next();
      if (done) return;
      yield value;
    }
  }
  return { estimate: est.needMore === undefined ? est : null, chunks: replay() };
}

/** Posts `msg` to every listener of a load (one, or all openers of a shared URL). */
const postAll = (ids, msg) => ids.forEach((id) => post({ ...msg, id }));

/**
 * Streams `chunks` into a new GgufFile, telling `listeners` (a Set of open ids; emptied by
 * aborts) about progress and the header. Resolves with the new file's key.
 */
async function load(listeners, name, size, chunks, from) {
  const t0 = performance.now();
  // Where the time goes (ms): waiting for chunks, allocating the buffer, copying the chunks
  // into wasm memory (with the header parse), the header messages, the final checks.
  const steps = { read: 0, alloc: 0, push: 0, header: 0, finish: 0 };
  let mark = t0;
  const lap = (step) => {
    const now = performance.now();
    steps[step] += now - mark;
    mark = now;
  };
  const head = await withHeader(size, chunks);
  if (head.estimate) checkFits(name, head.estimate);
  lap('read');
  const file = new GgufFile(size);
  lap('alloc');
  let headerSent = false;
  let lastProgress = 0;
  const sendHeader = () => {
    postAll(listeners, { type: MSG.HEADER, info: file.info(), metadata: file.metadata(), tensors: file.tensors(), memory: head.estimate });
    headerSent = true;
    lap('header');
  };
  try {
    for await (const chunk of head.chunks) {
      lap('read');
      if (listeners.size === 0) throw kindError('aborted', 'the load was abandoned');
      file.push(chunk);
      lap('push');
      if (!headerSent && file.headerReady) sendHeader();
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
        lastProgress = now;
        postAll(listeners, { type: MSG.PROGRESS, loaded: file.loaded, total: file.total });
      }
    }
    lap('read');
    file.finish();
    lap('finish');
    if (!headerSent) sendHeader();
  } catch (e) {
    file.free();
    throw e;
  }
  postAll(listeners, { type: MSG.PROGRESS, loaded: file.loaded, total: file.total });
  const key = nextFileKey++;
  const seconds = (performance.now() - t0) / 1000;
  files.set(key, { file, url: null, handles: new Set(), runner: null, seconds, steps, from, check: null, memory: head.estimate });
  return key;
}

/** Gives handle `id` the file `key` and tells it so. */
function attach(id, key, shared) {
  const f = files.get(key);
  f.handles.add(id);
  handles.set(id, key);
  if (shared) post({ id, type: MSG.HEADER, info: f.file.info(), metadata: f.file.metadata(), tensors: f.file.tensors(), memory: f.memory });
  post({ id, type: MSG.LOADED, info: f.file.info(), seconds: shared ? 0 : f.seconds, steps: f.steps, from: f.from, check: f.check, shared });
}

function urlKey(url) {
  for (const [key, f] of files) if (f.url === url) return key;
  return null;
}

async function openRequest(id, msg) {
  const me = { aborted: false };
  opening.set(id, me);
  try {
    if (msg.source.blob) {
      const listeners = new Set([id]);
      me.leave = () => listeners.delete(id);
      const blob = msg.source.blob;
      const key = await load(listeners, msg.name, blob.size, blobChunks(blob), 'file');
      if (me.aborted) return release(key);
      attach(id, key, false);
      return;
    }
    const { url } = msg.source;
    const have = urlKey(url);
    if (have !== null) return attach(id, have, true);
    let shared = urlLoads.get(url);
    const first = !shared;
    if (first) {
      const listeners = new Set();
      const promise = (async () => {
        const src = await urlSource(url, msg.cache);
        try {
          const key = await load(listeners, msg.name, src.size, src.chunks, src.from);
          Object.assign(files.get(key), { url, check: src.check });
          return key;
        } catch (e) {
          if (src.from === 'network' || e.kind !== 'aborted') src.forget();
          throw e;
        }
      })();
      shared = { listeners, promise };
      urlLoads.set(url, shared);
      promise.catch(() => {}).finally(() => urlLoads.delete(url));
    }
    shared.listeners.add(id);
    me.leave = () => shared.listeners.delete(id);
    const key = await shared.promise;
    if (me.aborted) {
      // Nobody else took it: drop it.
      if (files.get(key).handles.size === 0 && shared.listeners.size === 0) release(key);
      return;
    }
    attach(id, key, !first);
  } catch (e) {
    if (!me.aborted) throw e; // an aborted open has said so already
  } finally {
    opening.delete(id);
  }
}

/** Frees file `key` when no handle names it (a run still using it frees it when it ends). */
function release(key) {
  const f = files.get(key);
  if (!f || f.handles.size > 0) return;
  files.delete(key);
  const using = [...runs.values()].filter((r) => r.fileKey === key);
  if (using.length) {
    using.forEach(stopRun);
    return; // the last run to end frees it
  }
  freeFile(f);
}

function freeFile(f) {
  f.runner?.runner.free();
  f.runner = null;
  f.file.free();
}

function fileOf(handle) {
  const key = handles.get(handle);
  const f = key === undefined ? undefined : files.get(key);
  if (!f) throw kindError('not_open', `handle ${handle} has no open file`);
  return { key, f };
}

/** Lets queued messages (a 'stop', a new file) run between two tokens. */
function yieldToMessages() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

/** The modes a request asks for (both unless `msg.modes` narrows them). */
function askedModes(msg) {
  return MODES.filter((m) => (msg.modes || MODES).includes(m));
}

/** A runner for the file and options, kept on the file and reused while they stay the same. */
function runnerFor(f, options) {
  const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const key = JSON.stringify(clean);
  if (f.runner && f.runner.key === key) {
    f.runner.runner.reset();
    return f.runner.runner;
  }
  f.runner?.runner.free();
  f.runner = null;
  const runner = ModelRunner.load(f.file, clean);
  const info = runner.info();
  f.runner = { key, runner, bytes: info.perModeBytes * info.modes.length };
  return runner;
}

/**
 * Loads the runner for `msg`, feeds it the prompt and scores it: what RUN_INFO and SCORES say.
 * Whether the rescaled mode runs is the core's decision (`RescalePolicy`: strict mode refuses
 * it, with its reason), not this worker's.
 */
function prepare(f, msg) {
  const asked = askedModes(msg);
  const runner = runnerFor(f, {
    temperature: msg.temperature,
    topK: msg.topK,
    topP: msg.topP,
    repeatPenalty: msg.repeatPenalty,
    seed: msg.seed,
    rescale: asked.includes('rescaled'),
    strict: !!msg.strict,
    isa: msg.isa,
    scorePrompt: !!msg.score,
    threads: runThreads(msg.threads),
  });
  const info = runner.info();
  const modes = asked.filter((m) => info.modes.includes(m));
  const refused = info.rescale.status === 'refused_by_strict' ? { rescaled: info.rescale.reason } : {};
  runner.setMaxTokens(msg.maxTokens ?? 256);
  const promptIds = [...runner.prompt(f.file, msg.prompt ?? '', !!msg.chat)];
  const scores = Object.fromEntries(modes.map((m) => [m, runner.promptScore(m)]));
  const build = { ...wasmBuild, threads: runThreads(msg.threads) };
  return { runner, modes, reply: { info, build, modes, refused, promptIds, scores } };
}

/** Ends run `r`: a running one after its current token, a waiting one at once. */
function stopRun(r) {
  r.stopped = true;
  r.wake();
}

/**
 * Runs `body(f, me)` on the file of `handle` in its turn. The runs on one file (generations and
 * scores, from every handle that has it open: several elements naming one URL) share its
 * runner, so they take turns in the order they were asked for; `onWait(ahead)` is told first
 * when others come before this one. A stopped run stops waiting (`me.stopped`: its body must
 * not touch the runner then). The file is freed after the last run if it was closed meanwhile.
 */
async function inTurn(id, handle, onWait, body) {
  const { key, f } = fileOf(handle);
  const me = { fileKey: key, handle, stopped: false };
  const woken = new Promise((resolve) => { me.wake = resolve; });
  // (Runs stopped but not yet ended come first too, without being worth a WAITING.)
  const ahead = [...runs.values()].filter((r) => r.fileKey === key && !r.stopped).length;
  runs.set(id, me);
  const before = turns.get(key) ?? Promise.resolve();
  let end;
  const tail = before.then(() => new Promise((resolve) => { end = resolve; }));
  turns.set(key, tail);
  try {
    if (ahead > 0) onWait?.(ahead);
    await Promise.race([before, woken]);
    return await body(f, me);
  } finally {
    // This run's turn ends; one woken early still keeps its place until those before it end.
    before.then(() => end());
    tail.then(() => turns.get(key) === tail && turns.delete(key));
    runs.delete(id);
    // The file was closed while this run used it: free it now that the last run has ended.
    if (!files.has(key) && ![...runs.values()].some((r) => r.fileKey === key)) freeFile(f);
  }
}

/** Scores the prompt under each mode, without generating. */
function score(id, msg) {
  return inTurn(id, msg.handle, null, (f, me) => {
    if (me.stopped) throw kindError('closed', 'the file was closed');
    const { reply } = prepare(f, { ...msg, score: true, maxTokens: 1 });
    post({ id, type: MSG.SCORES, ...reply });
  });
}

/**
 * Prefills every mode with the prompt, then asks them for one token each in turn and posts
 * every token as it comes. A handle's new generation ends its own last one; another handle's
 * waits for its turn (WAITING says so).
 */
async function generate(id, msg) {
  const { key } = fileOf(msg.handle);
  for (const r of runs.values()) if (r.fileKey === key && r.handle === msg.handle) stopRun(r);
  const onWait = (ahead) => post({ id, type: MSG.WAITING, ahead });
  await inTurn(id, msg.handle, onWait, async (f, me) => {
    if (me.stopped) {
      post({ id, type: MSG.DONE, status: {}, stopped: true });
      return;
    }
    const { runner, modes, reply } = prepare(f, msg);
    post({ id, type: MSG.RUN_INFO, ...reply });
    const live = new Set(modes);
    while (live.size > 0) {
      await yieldToMessages();
      if (me.stopped) break;
      for (const mode of modes.filter((m) => live.has(m))) {
        const step = runner.nextToken(f.file, mode);
        if (step === undefined) {
          live.delete(mode);
          continue;
        }
        post({ id, type: MSG.TOKEN, mode, step, tokensPerS: runner.status(mode).decodeTokensPerS });
      }
    }
    const status = Object.fromEntries(modes.map((m) => [m, runner.status(m)]));
    post({ id, type: MSG.DONE, status, stopped: me.stopped });
  });
}

function close(id, handle) {
  const key = handles.get(handle);
  handles.delete(handle);
  const f = files.get(key);
  if (f) {
    f.handles.delete(handle);
    release(key);
  }
  post({ id, type: MSG.CLOSED });
}

self.onmessage = async ({ data: msg }) => {
  const { id } = msg;
  try {
    await wasmReady;
    switch (msg.type) {
      case MSG.OPEN:
        await openRequest(id, msg);
        break;
      case MSG.ABORT: {
        const o = opening.get(msg.target);
        if (o) {
          o.aborted = true;
          o.leave?.();
          post({ id: msg.target, type: MSG.ERROR, error: { message: 'the load was abandoned', kind: 'aborted' } });
        }
        break;
      }
      case MSG.CLOSE:
        close(id, msg.handle);
        break;
      case MSG.ARRAY:
        post({ id, type: MSG.ARRAY, array: fileOf(msg.handle).f.file.array(msg.key) });
        break;
      case MSG.NORMS: {
        const { file } = fileOf(msg.handle).f;
        post({ id, type: MSG.NORMS, report: file.normReport(), corrections: file.normCorrections(msg.options) });
        break;
      }
      case MSG.EXPORT: {
        const { file } = fileOf(msg.handle).f;
        const summary = file.exportSummary(msg.options);
        post({ id, type: MSG.EXPORT, blob: file.exportBlob(msg.options), summary });
        break;
      }
      case MSG.GENERATE:
        await generate(id, msg);
        break;
      case MSG.SCORE:
        await score(id, msg);
        break;
      case MSG.BENCH_KERNELS: {
        // Kernel GB/s on the file's real tensors (passes 0: memory figures only), the wasm
        // build that runs them, the memory held, and the file's load timings.
        const { f } = fileOf(msg.handle);
        const passes = msg.passes ?? 3;
        const kernels = passes > 0 ? f.file.benchKernels(passes) : null;
        const memoryBytes = (await wasmReady).exports.memory.buffer.byteLength;
        post({ id, type: MSG.BENCH_KERNELS, build: wasmBuild.key, memoryBytes, kernels, load: { seconds: f.seconds, steps: f.steps } });
        break;
      }
      case MSG.STOP: {
        const r = runs.get(msg.target);
        if (r) stopRun(r);
        post({ id, type: MSG.STOPPED });
        break;
      }
      default:
        throw kindError('bad_argument', `unknown request '${msg.type}'`);
    }
  } catch (e) {
    post({ id, type: MSG.ERROR, error: plainError(e) });
  }
};
