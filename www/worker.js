// The worker owns the wasm module and the GgufFiles: the page posts requests in, results come
// back as plain objects. A file streams from a File/Blob (File.slice chunks) or from a URL
// (the response body) straight into the buffer GgufFile allocated at the file's size.
//
// Messages in:  {id, type: 'openBlob', blob, name} | {id, type: 'openUrl', url, name}
//               {id, type: 'array', file, key}
//               {id, type: 'norms', file, options}      options: {rescale, strict}
//               {id, type: 'export', file, options}
//               {id, type: 'generate', file, prompt, chat, seed, maxTokens, temperature, isa, score, strict}
//               {id, type: 'stop'}                       stops the running generation
//               {id, type: 'bench-kernels', file, passes}  kernel GB/s (passes: 0 = memory only)
// Messages out: {id, type: 'progress', loaded, total}
//               {id, type: 'header', info, metadata, tensors}   (before the data has finished)
//               {id, type: 'loaded', info, seconds, steps}   steps: milliseconds per load step
//               {id, type: 'array', array}
//               {id, type: 'norms', report, corrections}
//               {id, type: 'export', blob, summary}
//               {id, type: 'runInfo', info, modes, promptIds}   then, alternating between modes,
//               {id, type: 'token', mode, step, tokensPerS}     and finally
//               {id, type: 'done', status: {mode: status}, stopped}
//               {id, type: 'bench-kernels', build, memoryBytes, kernels, lastLoad}
//               {id, type: 'error', error: {message, kind}}
// `id` is the request's; for 'array' requests `file` is the id of the open request.
import init, { GgufFile, ModelRunner } from './pkg/bitlens.js';
import { CHUNK_BYTES, PROGRESS_INTERVAL_MS, READ_AHEAD_CHUNKS } from './config.js';

const wasmReady = init();
// The wasm build asked for by the page's `?build=` (passed on in the worker's URL) and the one
// running: only the baseline build exists so far.
const BUILD_ASKED = new URL(self.location.href).searchParams.get('build') || 'baseline';
const BUILD = 'baseline';
let lastLoad = null; // the last complete load: {seconds, steps}

/** id of the open request → GgufFile, for the last complete file and the one loading. */
const files = new Map();
let currentId = null; // the last file that loaded completely
let latestOpen = null; // a newer open abandons an older one still streaming
let run = null; // the generation in progress: {fileId, stopped}
let cached = null; // the last ModelRunner, kept for the next run: {fileId, key, runner}

const post = (msg) => self.postMessage(msg);

function plainError(e) {
  return {
    message: String(e && e.message !== undefined ? e.message : e),
    kind: (e && e.kind) || 'error',
  };
}

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
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

async function urlSource(url) {
  const res = await fetch(url);
  if (!res.ok) throw Object.assign(new Error(`${url}: HTTP ${res.status}`), { kind: 'http' });
  const len = Number(res.headers.get('content-length'));
  if (res.body && Number.isSafeInteger(len) && len >= 0 && !res.headers.get('content-encoding')) {
    return { size: len, chunks: bodyChunks(res.body) };
  }
  const blob = await res.blob();
  return { size: blob.size, chunks: blobChunks(blob) };
}

async function open(id, size, chunks) {
  latestOpen = id;
  const t0 = performance.now();
  // Where the time goes (ms): allocating the buffer, waiting for chunks, copying them into
  // wasm memory (with the header parse), the header messages, the final checks.
  const steps = { alloc: 0, read: 0, push: 0, header: 0, finish: 0 };
  let mark = t0;
  const lap = (step) => {
    const now = performance.now();
    steps[step] += now - mark;
    mark = now;
  };
  const file = new GgufFile(size);
  lap('alloc');
  files.set(id, file);
  let headerSent = false;
  let lastProgress = 0;
  const sendHeader = () => {
    post({ id, type: 'header', info: file.info(), metadata: file.metadata(), tensors: file.tensors() });
    headerSent = true;
    lap('header');
  };
  try {
    for await (const chunk of chunks) {
      lap('read');
      if (latestOpen !== id) {
        throw Object.assign(new Error('superseded by a newer file'), { kind: 'superseded' });
      }
      file.push(chunk);
      lap('push');
      if (!headerSent && file.headerReady) sendHeader();
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
        lastProgress = now;
        post({ id, type: 'progress', loaded: file.loaded, total: file.total });
      }
    }
    lap('read');
    file.finish();
    lap('finish');
    if (!headerSent) sendHeader();
    const seconds = (performance.now() - t0) / 1000;
    lastLoad = { seconds, steps };
    post({ id, type: 'progress', loaded: file.loaded, total: file.total });
    const previous = currentId;
    currentId = id;
    if (previous !== null && previous !== id) {
      const old = files.get(previous);
      files.delete(previous);
      // A generation still using the old file stops first and frees it when it ends.
      if (run && run.fileId === previous) run.stopped = true;
      else {
        dropRunner(previous);
        old?.free();
      }
    }
    post({ id, type: 'loaded', info: file.info(), seconds, steps });
  } catch (e) {
    files.delete(id);
    file.free();
    throw e;
  }
}

function fileFor(id) {
  const file = files.get(id);
  if (!file) throw Object.assign(new Error(`file ${id} is not open`), { kind: 'not_open' });
  return file;
}

/** Lets queued messages (a 'stop', a new file) run between two tokens. */
function yieldToMessages() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

/** Frees the kept runner (only if it belongs to `fileId`, when given). */
function dropRunner(fileId) {
  if (!cached || (fileId !== undefined && cached.fileId !== fileId)) return;
  cached.runner.free();
  cached = null;
}

/** A runner for the file and options, reused while they stay the same (reset re-seeds it). */
function runnerFor(fileId, file, options) {
  const key = JSON.stringify(options);
  if (cached && cached.fileId === fileId && cached.key === key) return cached.runner;
  dropRunner();
  const runner = ModelRunner.load(file, options);
  cached = { fileId, key, runner };
  return runner;
}

/**
 * Prefills both modes with the prompt, then asks baseline and rescaled for one token each in
 * turn and posts every token as it comes. In strict mode only the baseline runs.
 */
async function generate(id, msg) {
  const file = fileFor(msg.file);
  if (run) run.stopped = true;
  const me = { id, fileId: msg.file, stopped: false };
  run = me;
  const ab = !msg.strict;
  try {
    const runner = runnerFor(msg.file, file, { temperature: msg.temperature, seed: msg.seed, ab, isa: msg.isa, scorePrompt: !!msg.score });
    runner.setMaxTokens(msg.maxTokens);
    const modes = ab ? ['baseline', 'rescaled'] : ['baseline'];
    const promptIds = runner.prompt(file, msg.prompt, msg.chat);
    const scores = Object.fromEntries(modes.map((m) => [m, runner.promptScore(m)]));
    post({ id, type: 'runInfo', info: runner.info(), modes, promptIds: [...promptIds], scores });
    const live = new Set(modes);
    while (live.size > 0) {
      await yieldToMessages();
      // Stopped, or a newer run took (or replaced) the runner: this one ends here.
      if (me.stopped || cached?.runner !== runner) break;
      for (const mode of modes.filter((m) => live.has(m))) {
        const step = runner.nextToken(file, mode);
        if (step === undefined) {
          live.delete(mode);
          continue;
        }
        post({ id, type: 'token', mode, step, tokensPerS: runner.status(mode).decodeTokensPerS });
      }
    }
    const current = cached?.runner === runner && run === me;
    const status = current ? Object.fromEntries(modes.map((m) => [m, runner.status(m)])) : {};
    post({ id, type: 'done', status, stopped: me.stopped });
  } finally {
    if (run === me) run = null;
    // The file was replaced while this generation used it: free it (and its runner) now.
    if (files.get(me.fileId) !== file) {
      dropRunner(me.fileId);
      file.free();
    }
  }
}

self.onmessage = async ({ data: msg }) => {
  const { id } = msg;
  try {
    await wasmReady;
    switch (msg.type) {
      case 'openBlob':
        await open(id, msg.blob.size, blobChunks(msg.blob));
        break;
      case 'openUrl': {
        const { size, chunks } = await urlSource(msg.url);
        await open(id, size, chunks);
        break;
      }
      case 'array':
        post({ id, type: 'array', array: fileFor(msg.file).array(msg.key) });
        break;
      case 'norms': {
        const file = fileFor(msg.file);
        post({ id, type: 'norms', report: file.normReport(), corrections: file.normCorrections(msg.options) });
        break;
      }
      case 'export': {
        const file = fileFor(msg.file);
        const summary = file.exportSummary(msg.options);
        post({ id, type: 'export', blob: file.exportBlob(msg.options), summary });
        break;
      }
      case 'generate':
        await generate(id, msg);
        break;
      case 'bench-kernels': {
        const file = fileFor(msg.file);
        const passes = msg.passes ?? 3;
        const kernels = passes > 0 ? file.benchKernels(passes) : null;
        const memoryBytes = (await wasmReady).memory.buffer.byteLength;
        post({ id, type: 'bench-kernels', build: BUILD, buildAsked: BUILD_ASKED, memoryBytes, kernels, lastLoad });
        break;
      }
      case 'stop':
        if (run) run.stopped = true;
        post({ id, type: 'stopped' });
        break;
      default:
        throw new Error(`unknown request '${msg.type}'`);
    }
  } catch (e) {
    post({ id, type: 'error', error: plainError(e) });
  }
};
