// `npm run bench`: one table of load, memory, prefill/decode/A-B speed and kernel GB/s for a
// file with BitNet b1.58 2B-4T's exact structure (random weights), in headless Chromium through
// the page and its worker (per wasm build) and natively, beside bitnet.cpp's llama-bench when
// BITNET_CPP_BENCH=/path/to/llama-bench is set. Prints figures; asserts nothing about time.
//   npm run bench             (builds the wasm first)
//   node scripts/bench.mjs    (www/pkg must exist)
// Env: BITLENS_CACHE (where the 1.18 GB file is written once), BENCH_BUILDS (default
// "baseline,relaxed,threads"), BENCH_THREADS (thread counts of the threaded wasm build and of
// the native runs, default "1,2"), BITNET_CPP_BENCH, BITNET_CPP_REPS (llama-bench
// repetitions, default 3).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseFile, launch, openPage, serve } from '../tests/e2e/browser.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.BITLENS_CACHE || join(homedir(), '.cache', 'bitlens');
const FILE = join(CACHE, 'bitnet-2b4t-shaped-i2_s.gguf');
const BUILDS = (process.env.BENCH_BUILDS || 'baseline,relaxed,threads').split(',');
const THREADS = (process.env.BENCH_THREADS || '1,2').split(',').map(Number);
const PROMPT_TOKENS = 128;
const DECODE_TOKENS = 64;
// The file's vocabulary is synthetic (no text merges): its special tokens make the prompt, one
// token each, after BOS.
const PROMPT = Array.from({ length: PROMPT_TOKENS - 1 }, (_, i) => `<|reserved_special_token_${10 + i}|>`).join('');
const GEN = { prompt: PROMPT, chat: false, seed: 1, maxTokens: DECODE_TOKENS, temperature: 0, isa: 'avx2', score: false };
// The A/B pair's rate is a decode figure: a short prompt spares two 128-token prefills.
const AB_PROMPT = PROMPT.slice(0, PROMPT.indexOf('<|reserved_special_token_17|>'));

const log = (s) => console.log(`bench: ${s}`);

/**
 * The A/B pair's rate, tokens of both modes per second / 2, from each mode's decode rate: a
 * step decodes one token of each mode in one pass and charges each mode its whole time, so
 * either mode's rate is the pair's (the slower one, should they differ).
 */
const pairRate = (modeRates) => Math.min(...modeRates);

function cargo(args) {
  const r = spawnSync('nice', ['-n', '5', 'cargo', ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`cargo ${args.join(' ')} failed`);
}

function ensureFile() {
  if (existsSync(FILE)) return statSync(FILE).size;
  log(`writing ${FILE} (1.18 GB, once)`);
  cargo(['run', '--release', '--example', 'make_2b4t_shaped', '--', FILE]);
  return statSync(FILE).size;
}

/** Waits for the element's 'bitlens-loaded' after `start()`; the worker's seconds and steps. */
async function load(page) {
  const loaded = page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const lens = document.querySelector('bit-lens');
        lens.addEventListener('bitlens-loaded', (e) => resolve(e.detail.seconds), { once: true });
        lens.addEventListener('bitlens-error', (e) => reject(new Error(e.detail.error.message)), { once: true });
      }),
  );
  await page.evaluate(() => {
    // The element clears its input after reading it: keep the File for the raw read.
    const input = document.querySelector('bit-lens').shadowRoot.querySelector('input[type=file]');
    input.addEventListener('change', () => (window.benchFile = input.files[0]), { capture: true, once: true });
  });
  await page.waitForTimeout(100);
  await chooseFile(page, FILE);
  return loaded;
}

/** The kernels' figures and the worker's memory and load timings (`Lens.benchKernels`). */
const benchKernels = (page, passes) => page.evaluate((p) => document.querySelector('bit-lens').lens.benchKernels(p), passes);

/** Milliseconds of the norm statistics through the API. */
async function timedNorms(page) {
  const t0 = performance.now();
  await page.evaluate(() => document.querySelector('bit-lens').lens.norms());
  return { ms: performance.now() - t0 };
}

/** Runs one generation through the API (the element's file handle); each mode's status. */
const generate = (page, payload) =>
  page.evaluate(async (payload) => {
    const start = performance.now();
    const gen = document.querySelector('bit-lens').lens.generate(payload);
    await gen.info;
    const t0 = performance.now();
    let tokens = 0;
    for await (const _ of gen) tokens++;
    const { status } = await gen.status;
    // The A/B pair prefills both modes in one pass, each charged its full time: the longest.
    const prefillMs = Math.max(...Object.values(status).map((m) => m.timings.prefill_ms));
    // Runner load (model views, tokenizer, KV caches) and tokenizing: before the prefill.
    return { status, tokens, wallS: (performance.now() - t0) / 1000, setupMs: t0 - start - prefillMs };
  }, payload);

async function browserRows(size) {
  const rows = [];
  const server = await serve();
  const browser = await launch();
  try {
    for (const build of BUILDS) {
      const { page, problems } = await openPage(browser, `${server.url}?build=${build}`);
      page.setDefaultTimeout(1_800_000);
      try {
        await page.locator('bit-lens[state="loaded"]').waitFor();
        const seconds = await load(page);
        const afterLoad = await benchKernels(page, 0);
        if (afterLoad.build !== build) {
          log(`${build}: not available (the worker ran '${afterLoad.build}')`);
          continue;
        }
        const raw = await page.evaluate(async () => {
          const t0 = performance.now();
          const buf = await window.benchFile.arrayBuffer();
          return { seconds: (performance.now() - t0) / 1000, bytes: buf.byteLength };
        });
        const norms = await timedNorms(page);
        const k = (await benchKernels(page, 3)).kernels;
        // The threaded build runs at each of BENCH_THREADS (the page served cross-origin
        // isolated, as `npm start` serves it); the others have one thread.
        for (const threads of build === 'threads' ? THREADS : [1]) {
          const strict = await generate(page, { ...GEN, strict: true, threads });
          const ab = await generate(page, { ...GEN, prompt: AB_PROMPT, strict: false, threads });
          log(
            `${build}, ${threads} thread(s): load steps (ms) ${fmtSteps(afterLoad.load.steps)}; then norm statistics ${norms.ms.toFixed(0)} ms, ` +
              `runner set-up ${strict.setupMs.toFixed(0)} ms (strict), ${ab.setupMs.toFixed(0)} ms (A/B)`,
          );
          const afterGen = await benchKernels(page, 0);
          const b = strict.status.baseline;
          rows.push({
            where: `Chromium ${build}`,
            threads,
            loadS: seconds,
            loadMBps: size / 1e6 / seconds,
            rawS: raw.seconds,
            memLoad: afterLoad.memoryBytes,
            memGen: afterGen.memoryBytes,
            prefill: b.prefillTokensPerS,
            decode: b.decodeTokensPerS,
            pair: pairRate(Object.values(ab.status).map((m) => m.decodeTokensPerS)),
            k,
          });
        }
        if (problems.length) log(`${build}: page problems: ${problems.join('; ')}`);
      } finally {
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return rows;
}

function bitlens(args, env = {}) {
  const out = execFileSync(join(ROOT, 'target/release/bitlens'), args, {
    env: { ...process.env, ...env },
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out);
}

function nativeRows(size) {
  cargo(['build', '--release', '--bin', 'bitlens']);
  const run = ['run', FILE, '--prompt', PROMPT, '--greedy', '--max-tokens', String(DECODE_TOKENS), '--json'];
  return THREADS.map((t) => {
    const th = ['--threads', String(t)];
    const k = bitlens(['bench', FILE, '--json', ...th]);
    const t0 = performance.now();
    const strict = bitlens([...run, ...th], { BITNET_STRICT_MODE: '1' });
    const runS = (performance.now() - t0) / 1000;
    const abRun = ['run', FILE, '--prompt', AB_PROMPT, '--greedy', '--max-tokens', String(DECODE_TOKENS), '--json'];
    const ab = bitlens([...abRun, ...th, '--ab'], { BITNET_STRICT_MODE: '' });
    const modes = Object.values(ab.modes).map((m) => m.timings);
    const st = strict.timings;
    // Natively the load is a read of the file (std::fs::read), part of the run's wall time.
    const loadS = Math.max(runS - (st.prefill_ms + st.decode_ms) / 1000, 0);
    return {
      where: 'native x86 (AVX2)',
      threads: t,
      loadS,
      loadMBps: size / 1e6 / loadS,
      prefill: st.prefill_tokens_per_s,
      decode: st.decode_tokens_per_s,
      pair: pairRate(modes.map((m) => m.decode_tokens_per_s)),
      k,
    };
  });
}

/** llama-bench's pp128 and tg64 rows at each thread count, or null when not asked for. */
function bitnetCpp() {
  const exe = process.env.BITNET_CPP_BENCH;
  if (!exe) return null;
  const reps = process.env.BITNET_CPP_REPS || '3';
  const rows = [];
  for (const t of THREADS) {
    const args = ['-m', FILE, '-t', String(t), '-p', String(PROMPT_TOKENS), '-n', String(DECODE_TOKENS), '-r', reps, '-o', 'json'];
    const out = execFileSync(exe, args, { maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'ignore'] });
    for (const r of JSON.parse(out)) {
      const test = r.n_prompt > 0 ? `pp${r.n_prompt}` : `tg${r.n_gen}`;
      rows.push({ threads: t, test, ts: r.avg_ts, sd: r.stddev_ts });
    }
  }
  return rows;
}

const fmtSteps = (s) => Object.entries(s).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
const f = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(d));
const mb = (v) => (v ? (v / 1e6).toFixed(0) : '-');

function printTable(rows) {
  const head = ['', 'thr', 'load s', 'MB/s', 'raw s', 'mem load MB', 'mem gen MB', 'prefill t/s', 'decode t/s', 'A/B pair t/s', 'ternary GB/s', 'head GB/s', 'probe GB/s'];
  const body = rows.map((r) => [
    r.where,
    String(r.threads),
    f(r.loadS, 2),
    f(r.loadMBps, 0),
    f(r.rawS, 2),
    mb(r.memLoad),
    mb(r.memGen),
    f(r.prefill, 2),
    f(r.decode, 2),
    f(r.pair, 2),
    f(r.k.projections.gbPerS, 2),
    f(r.k.head.gbPerS, 2),
    f(r.k.probe.gbPerS, 2),
  ]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  for (const r of all) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
}

const size = ensureFile();
log(`${FILE}: ${(size / 1e9).toFixed(3)} GB; prompt ${PROMPT_TOKENS} tokens, decode ${DECODE_TOKENS}, greedy, scoring off`);
log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rows = await browserRows(size);
rows.push(...nativeRows(size));
const ref = bitnetCpp();
console.log();
printTable(rows);
console.log(
  '(load: the worker from choosing the file to loaded; raw: File.arrayBuffer() of the same file in the page; ' +
    'mem: the worker\'s WebAssembly.Memory after load and after generation; decode: strict mode, baseline only; ' +
    'A/B pair: tokens of both modes per second / 2 in decode (8-token prompt); GB/s: fastest of 3 passes, products and probe on one thread in the browser (the threaded build: its kernels on one thread, on every row); ' +
    'native load: the run\'s wall time less prefill and decode, i.e. reading the file, parsing, tokenizer and KV caches)',
);
if (ref) {
  console.log();
  for (const r of ref) console.log(`bitnet.cpp llama-bench -t ${r.threads} ${r.test}: ${r.ts.toFixed(2)} ± ${r.sd.toFixed(2)} tok/s`);
  const test = (t, kind) => ref.find((r) => r.threads === t && r.test.startsWith(kind));
  for (const t of THREADS.filter((t) => test(t, 'pp') && test(t, 'tg'))) {
    console.log(`bitnet.cpp -t ${t} pp${PROMPT_TOKENS} / tg${DECODE_TOKENS}: ${(test(t, 'pp').ts / test(t, 'tg').ts).toFixed(2)}`);
  }
  for (const r of rows.filter((r) => r.where.startsWith('Chromium') && test(r.threads, 'tg'))) {
    const [tg, pp] = [test(r.threads, 'tg'), test(r.threads, 'pp')];
    console.log(
      `${r.where} ${r.threads} thread(s) decode / bitnet.cpp -t ${r.threads} tg${DECODE_TOKENS}: ${(r.decode / tg.ts).toFixed(2)}` +
        (pp ? `; prefill / bitnet.cpp pp${PROMPT_TOKENS}: ${(r.prefill / pp.ts).toFixed(2)}` : ''),
    );
  }
} else {
  console.log('bitnet.cpp: not measured (set BITNET_CPP_BENCH=/path/to/llama-bench)');
}
// The issue's own ratios, each row against its own decode rate (targets: A/B pair 0.8, prefill 4).
for (const r of rows) {
  console.log(`${r.where} ${r.threads} thread(s): A/B pair / decode ${(r.pair / r.decode).toFixed(2)}, prefill / decode ${(r.prefill / r.decode).toFixed(2)}`);
}
// Thread scaling of each multi-thread row against the same place's one-thread row.
for (const r of rows.filter((r) => r.threads > 1)) {
  const one = rows.find((o) => o.where === r.where && o.threads === 1);
  if (!one) continue;
  const x = (k) => (r[k] / one[k]).toFixed(2);
  console.log(`${r.where} ${r.threads} threads vs 1: prefill ${x('prefill')}x, decode ${x('decode')}x, A/B pair ${x('pair')}x`);
}
log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
