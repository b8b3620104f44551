// The JS API: open a GGUF file (a File, Blob, URL or ArrayBuffer) in the page's one worker and
// ask about it. The <bit-lens> element is built on this; a script can use it directly:
//
//   import { open } from './bit-lens.js';
//   const lens = await open('model.gguf', { onProgress: ({ loaded, total }) => {} });
//   const report = await lens.norms();
//   for await (const t of lens.generate({ prompt: 'To be', maxTokens: 8 })) console.log(t.mode, t.text);
//   lens.close();
//
// Every handle of a page shares one worker, and handles that open the same URL share one copy
// of the file. Errors reject with the Rust error's `kind` and message.
import { CACHE_NAME, MODES, MSG, kindError, toError } from './protocol.js';

/** The page's worker and the routing of its replies to their requests. */
class Client {
  constructor() {
    // `?build=baseline|relaxed|threads` on the page forces a wasm build (benchmarks); else the worker
    // picks the best one the browser validates.
    const url = new URL('./worker.js', import.meta.url);
    const build = new URLSearchParams(globalThis.location?.search ?? '').get('build');
    if (build) url.searchParams.set('build', build);
    this.worker = new Worker(url, { type: 'module' });
    this.nextId = 1;
    this.routes = new Map(); // request id → callback for its replies
    this.worker.onmessage = ({ data }) => this.routes.get(data.id)?.(data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      const error = { message: `the worker failed: ${e.message || 'could not start'}`, kind: 'worker' };
      for (const [id, route] of [...this.routes]) route({ id, type: MSG.ERROR, error });
    };
  }

  /** Posts a request; `onReply` gets each of its replies until `end(id)`. Returns its id. */
  send(msg, onReply) {
    const id = this.nextId++;
    if (onReply) this.routes.set(id, onReply);
    this.worker.postMessage({ ...msg, id });
    return id;
  }

  end(id) {
    this.routes.delete(id);
  }

  /** A request with one reply: resolves with it, rejects on ERROR. */
  request(msg) {
    return new Promise((resolve, reject) => {
      const id = this.send(msg, (reply) => {
        this.end(id);
        if (reply.type === MSG.ERROR) reject(toError(reply.error));
        else resolve(reply);
      });
    });
  }
}

let client = null;
const worker = () => (client ??= new Client());

/**
 * The API's objects as plain JSON-like ones, as the CLI's --json prints them: serde-wasm-bindgen
 * hands flattened structs over as Maps, u64 counts as BigInts (exact; every count in a norm
 * report is far below 2^53) and None as undefined (JSON's null).
 */
export function plain(v) {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Blob)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const baseUrl = () => globalThis.document?.baseURI ?? globalThis.location?.href;

/** A file's name from its URL: the last path segment. */
export function nameOfUrl(url) {
  return decodeURIComponent(new URL(url, baseUrl()).pathname.split('/').pop()) || 'model.gguf';
}

/** What `open` sends the worker for `source`. */
function describe(source, name) {
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, baseUrl()).href;
    return { source: { url }, name: name ?? nameOfUrl(url) };
  }
  if (source instanceof Blob) return { source: { blob: source }, name: name ?? source.name ?? 'file.gguf' };
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return { source: { blob: new Blob([source]) }, name: name ?? 'buffer.gguf' };
  }
  throw kindError('bad_argument', 'open(source): source must be a File, Blob, URL or ArrayBuffer');
}

/**
 * Opens a GGUF file. `options`: `onProgress({loaded, total})`, `onHeader(header)` (the header,
 * metadata and tensor table, before the data has finished: `{info, metadata, tensors, memory}`),
 * `signal` (an AbortSignal: rejects with kind 'aborted'), `rescale` and `strict` (the defaults
 * of the handle's norm, export and generation calls), `cache` (URLs: keep a copy in the Cache
 * API, default true), `name`. Resolves with a `Lens` once the whole file is in memory.
 */
export function open(source, options = {}) {
  const { onProgress, onHeader, signal, rescale = false, strict = false, cache = true, name } = options;
  let what;
  try {
    what = describe(source, name);
  } catch (e) {
    return Promise.reject(e);
  }
  if (signal?.aborted) return Promise.reject(kindError('aborted', 'the load was abandoned'));
  const c = worker();
  return new Promise((resolve, reject) => {
    let header = null;
    const onAbort = () => c.send({ type: MSG.ABORT, target: id });
    const id = c.send({ type: MSG.OPEN, ...what, cache }, (msg) => {
      switch (msg.type) {
        case MSG.PROGRESS:
          onProgress?.({ loaded: msg.loaded, total: msg.total });
          break;
        case MSG.HEADER:
          header = { info: msg.info, metadata: msg.metadata, tensors: msg.tensors, memory: msg.memory };
          onHeader?.(header);
          break;
        case MSG.LOADED:
          c.end(id);
          signal?.removeEventListener('abort', onAbort);
          resolve(new Lens(c, id, what.name, { ...header, info: msg.info }, msg, { rescale, strict }));
          break;
        case MSG.ERROR:
          c.end(id);
          signal?.removeEventListener('abort', onAbort);
          reject(toError(msg.error));
          break;
      }
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An open file. Its methods reject with kind 'closed' after `close()`. */
export class Lens {
  constructor(c, id, name, header, loaded, options) {
    this._c = c;
    this._id = id;
    this.name = name;
    this._header = header;
    /** 'file', 'network' or 'cache': where the bytes came from. */
    this.from = loaded.from;
    /**
     * A cached copy's check against the server (null unless `from` is 'cache'): {status, detail};
     * status 'not-modified' (the server's file is the same: nothing downloaded), 'offline' (the
     * server could not be reached), 'http' (it answered an error, in `detail`) or 'unchecked' (it
     * gave no ETag or Last-Modified to check with). A changed file comes `from` 'network'.
     */
    this.cacheCheck = loaded.check ?? null;
    /** Seconds the load took (0 when another handle had the file open already). */
    this.seconds = loaded.seconds;
    /** Milliseconds per load step: {read, alloc, push, header, finish}. */
    this.loadSteps = loaded.steps;
    this.shared = loaded.shared;
    /** The defaults of `norms`, `records`, `export` and `generate`: {rescale, strict}. */
    this.options = { ...options };
    this.closed = false;
  }

  _ask(type, payload = {}) {
    if (this.closed) return Promise.reject(kindError('closed', `${this.name} is closed`));
    return this._c.request({ ...payload, type, handle: this._id });
  }

  _options(o) {
    return { rescale: o?.rescale ?? this.options.rescale, strict: o?.strict ?? this.options.strict };
  }

  /** The file's layout: version, sizes, alignment, counts, notes. */
  async info() {
    return this._header.info;
  }

  /** Metadata entries in file order (long arrays summarised; `array(key)` has them in full). */
  async metadata() {
    return this._header.metadata;
  }

  /** The tensor table in file order. */
  async tensors() {
    return this._header.tensors;
  }

  /** The memory estimate made from the header before loading (`estimateMemory`'s object). */
  async memory() {
    return this._header.memory;
  }

  /** One metadata array in full: {key, elem_type, count, values}. */
  async array(key) {
    return (await this._ask(MSG.ARRAY, { key })).array;
  }

  /** Statistics of every norm gamma: the report `bitlens stats --json` prints. */
  async norms() {
    return plain((await this._ask(MSG.NORMS, { options: this._options() })).report);
  }

  /** What the rescale does under `options` (default: the handle's): {policy, outcome, records}. */
  async corrections(options) {
    return plain((await this._ask(MSG.NORMS, { options: this._options(options) })).corrections);
  }

  /** The rescale's records under `options` (empty when off or refused by strict mode). */
  async records(options) {
    return (await this.corrections(options)).records;
  }

  /**
   * For benchmarks: the kernels' GB/s on this file's own tensors (the fastest of `passes`
   * passes; none for 0), with the wasm build running them, the wasm memory held and the load's
   * timings: {build, memoryBytes, kernels, load}.
   */
  async benchKernels(passes = 3) {
    return plain(await this._ask(MSG.BENCH_KERNELS, { passes }));
  }

  /** The corrected GGUF as a Blob (the input, byte for byte, when the rescale is off). */
  async export(options) {
    return (await this._ask(MSG.EXPORT, { options: this._options(options) })).blob;
  }

  /** What `export` writes: {size, outcome, records, rescaled}. */
  async exportSummary(options) {
    return plain((await this._ask(MSG.EXPORT, { options: this._options(options) })).summary);
  }

  /**
   * Generates from `prompt`: an async iterator of `{mode, token, text, probe, index, pos,
   * tokensPerS}`, one token of each mode in turn. See `Generation` for its info and status.
   * Options: prompt, chat, maxTokens, temperature (0 = greedy), topK, topP, repeatPenalty,
   * seed, modes (default both; strict mode refuses 'rescaled'), isa, score, threads (default:
   * as many as the threaded build's pool has; 1 in the one-thread builds), signal, and
   * onWaiting(ahead): called when generations of other handles on the same file (another
   * element naming the same URL) run first; runs on one file take turns, a handle's new
   * generation ends its own previous one.
   */
  generate(options = {}) {
    return new Generation(this, options);
  }

  /** The prompt's perplexity under each mode: {baseline: {tokens, meanNll, perplexity, ...}, rescaled}. */
  async score(prompt, options = {}) {
    const reply = await this._ask(MSG.SCORE, { ...runPayload({ ...options, prompt }), strict: this._options(options).strict });
    return reply.scores;
  }

  /** Frees the file (once no other handle has it open). */
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this._c.request({ type: MSG.CLOSE, handle: this._id });
  }
}

/** A run's options as the worker takes them. */
function runPayload(o) {
  return {
    prompt: o.prompt ?? '',
    chat: !!o.chat,
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    repeatPenalty: o.repeatPenalty,
    seed: o.seed,
    modes: o.modes ?? MODES,
    isa: o.isa,
    score: !!o.score,
    threads: o.threads,
  };
}

/** A promise nobody has to await (its rejection is also the iterator's). */
function quiet(p) {
  p.catch(() => {});
  return p;
}

/**
 * A generation in progress: `for await (const t of gen)`; `gen.info` resolves with the run's
 * set-up ({info, modes, refused, promptIds, scores}), `gen.status` with the final
 * {status: {mode: {stopReason, decodeTokensPerS, ...}}, stopped}, which is also the iterator's
 * return value; `gen.stop()` ends it.
 */
export class Generation {
  constructor(lens, options) {
    this._queue = [];
    this._wake = null;
    this._end = null; // {status} or {error}
    const counts = {};
    let setInfo;
    let failInfo;
    let setStatus;
    let failStatus;
    this.info = quiet(new Promise((res, rej) => { setInfo = res; failInfo = rej; }));
    this.status = quiet(new Promise((res, rej) => { setStatus = res; failStatus = rej; }));
    if (lens.closed) {
      const e = kindError('closed', `${lens.name} is closed`);
      this._finish({ error: e }, failInfo, failStatus);
      return;
    }
    this._c = lens._c;
    const payload = { ...runPayload(options), strict: lens._options(options).strict, handle: lens._id, type: MSG.GENERATE };
    this._id = this._c.send(payload, (msg) => {
      switch (msg.type) {
        case MSG.WAITING:
          options.onWaiting?.(msg.ahead);
          break;
        case MSG.RUN_INFO:
          setInfo({ info: msg.info, build: msg.build, modes: msg.modes, refused: msg.refused, promptIds: msg.promptIds, scores: msg.scores });
          break;
        case MSG.TOKEN: {
          const index = (counts[msg.mode] = (counts[msg.mode] ?? -1) + 1);
          const { token, text, probe, pos, isEndOfGeneration } = msg.step;
          this._push({ mode: msg.mode, token, text, probe, index, pos, isEndOfGeneration, tokensPerS: msg.tokensPerS });
          break;
        }
        case MSG.DONE:
          this._c.end(this._id);
          setInfo(undefined); // resolved already unless the run never started
          this._finish({ status: { status: msg.status, stopped: msg.stopped } }, null, null, setStatus);
          break;
        case MSG.ERROR:
          this._c.end(this._id);
          this._finish({ error: toError(msg.error) }, failInfo, failStatus);
          break;
      }
    });
    options.signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  _push(item) {
    this._queue.push(item);
    this._wake?.();
  }

  _finish(end, failInfo, failStatus, setStatus) {
    this._end = end;
    if (end.error) {
      failInfo(end.error);
      failStatus(end.error);
    } else setStatus(end.status);
    this._wake?.();
  }

  /** Ends the run after the tokens in flight. */
  stop() {
    if (!this._end && this._c) this._c.send({ type: MSG.STOP, target: this._id });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next() {
    for (;;) {
      if (this._queue.length) return { value: this._queue.shift(), done: false };
      if (this._end) {
        if (this._end.error) throw this._end.error;
        return { value: this._end.status, done: true };
      }
      await new Promise((r) => { this._wake = r; });
      this._wake = null;
    }
  }

  /** Leaving a `for await` loop early stops the run. */
  async return(value) {
    this.stop();
    return { value, done: true };
  }
}

/** The models kept by the Cache API: [{url, bytes}]. */
export async function cachedModels() {
  if (!globalThis.caches || !(await caches.has(CACHE_NAME))) return []; // (open would create it)
  const cache = await caches.open(CACHE_NAME);
  const out = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    out.push({ url: req.url, bytes: Number(res?.headers.get('content-length')) || 0 });
  }
  return out;
}

/** Empties the model cache. */
export async function clearCache() {
  if (globalThis.caches) await caches.delete(CACHE_NAME);
}
