// Streams a generated ~1 GB GGUF into wasm memory in headless Chromium, through the page's
// <bit-lens> element and its worker, and prints seconds and MB/s. Not a test.
//   npm run bench:stream            (builds the wasm first)
//   node scripts/bench-stream.mjs   (www/pkg must exist)
// Two ways in: a File chosen in the file input (read with File.slice chunks of 16 MiB) and a
// URL streamed from the response body. The generated file is cached in ~/.cache/bitlens.
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { CACHE_DIR as CACHE, launch, openPage, serve } from '../tests/e2e/browser.mjs';
import { ggufHeader } from '../tests/e2e/gguf-writer.mjs';

const FILE = join(CACHE, 'bench-stream-1gb.gguf');
// 15 F32 tensors of 4096 x 4096 (64 MiB each): 1.007 GB.
const TENSORS = Array.from({ length: 15 }, (_, i) => ({ name: `blk.${i}.weight`, dims: [4096, 4096] }));
const METADATA = [
  ['general.architecture', 'llama'],
  ['general.name', 'bitlens stream benchmark'],
];

async function generate() {
  const { header, dataBytes } = ggufHeader(METADATA, TENSORS);
  const size = header.length + dataBytes;
  if (existsSync(FILE) && statSync(FILE).size === size) return size;
  mkdirSync(CACHE, { recursive: true });
  console.log(`bench: writing ${FILE} (${(size / 1e9).toFixed(3)} GB)`);
  const out = createWriteStream(FILE);
  out.write(header);
  // Non-zero bytes, so nothing along the way can treat the data as sparse.
  const block = new Uint8Array(16 * 1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  for (let left = dataBytes; left > 0; left -= block.length) {
    if (!out.write(block.subarray(0, Math.min(block.length, left)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return size;
}

/** Runs `start` in the page and waits for the element's 'bitlens-loaded' (or error) event. */
async function timedLoad(page, start, arg) {
  const waiting = page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const lens = document.querySelector('bit-lens');
        const t0 = performance.now();
        lens.addEventListener('bitlens-loaded', (e) =>
          resolve({ workerSeconds: e.detail.seconds, pageSeconds: (performance.now() - t0) / 1000 }), { once: true });
        lens.addEventListener('bitlens-error', (e) => reject(new Error(e.detail.error.message)), { once: true });
      }),
  );
  await page.waitForTimeout(100);
  await start(arg);
  return waiting;
}

const size = await generate();
const server = await serve({ '/bench.gguf': FILE });
const browser = await launch();
try {
  const { page, problems } = await openPage(browser, server.url);
  page.setDefaultTimeout(600_000);
  await page.locator('bit-lens[state="loaded"]').waitFor();
  const mb = size / 1e6;
  const report = (how, r) =>
    console.log(
      `bench: ${how}: ${mb.toFixed(0)} MB into wasm memory in ${r.workerSeconds.toFixed(2)} s ` +
        `(${(mb / r.workerSeconds).toFixed(0)} MB/s; ${r.pageSeconds.toFixed(2)} s as the page saw it)`,
    );

  const fromFile = await timedLoad(page, (f) => page.locator('bit-lens input[type=file]').setInputFiles(f), FILE);
  report('File.slice (16 MiB chunks)', fromFile);
  const shown = await page.locator('bit-lens table.tensors tbody tr').count();
  if (shown !== TENSORS.length) throw new Error(`expected ${TENSORS.length} tensor rows, saw ${shown}`);

  const fromUrl = await timedLoad(page, (u) => page.evaluate((url) => document.querySelector('bit-lens').openUrl(url, { cache: false }), u), '/bench.gguf');
  report('fetch body stream', fromUrl);
  if (problems.length) console.log(`bench: page problems: ${problems.join('; ')}`);
} finally {
  await browser.close();
  await server.close();
}
