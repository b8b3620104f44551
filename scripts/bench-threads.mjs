// Decode tokens/s in the page served as `npm start` serves it (cross-origin isolated: the
// threaded build), 1 thread against 2 (or the counts given), on the 2B-4T-shaped file
// (`cargo run --release --example make_2b4t_shaped` writes it into ~/.cache/bitlens). Not a test.
//   node scripts/bench-threads.mjs [--tokens N] [--rounds R] [THREADS...]   (www/pkg-threads must exist)
// Each round runs every thread count in turn (greedy, baseline only), so a busy machine's load
// falls on all of them alike; prints each run and the median per count.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CACHE_DIR, launch, openPage, serve, waitForFile } from '../tests/e2e/browser.mjs';

const FILE = join(CACHE_DIR, 'bitnet-2b4t-shaped-i2_s.gguf');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : Number(args.splice(i, 2)[1]);
};
const tokens = opt('--tokens', 16);
const rounds = opt('--rounds', 3);
const counts = args.length ? args.map(Number) : [1, 2];
if (!existsSync(FILE)) {
  console.error(`bench-threads: ${FILE} is missing: cargo run --release --example make_2b4t_shaped`);
  process.exit(1);
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const server = await serve({ '/model.gguf': FILE });
const browser = await launch();
const rates = Object.fromEntries(counts.map((n) => [n, []]));
try {
  const { page } = await openPage(browser, `${server.url}?strict=1`);
  page.setDefaultTimeout(600_000);
  await page.evaluate(() => document.querySelector('bit-lens').setAttribute('src', '/model.gguf'));
  await waitForFile(page, 'model.gguf');
  await page.getByTestId('prompt').fill('The capital of France is');
  await page.getByTestId('max-tokens').fill(String(tokens));
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('score').setChecked(false);
  for (let r = 0; r < rounds; r++) {
    for (const n of counts) {
      await page.getByTestId('threads').fill(String(n));
      await page.getByTestId('run').click();
      await page.locator('[data-testid="generate"][data-state="done"]').waitFor();
      const speed = await page.getByTestId('speed-baseline').textContent();
      const status = await page.getByTestId('run-status').textContent();
      const rate = Number(/([\d.]+) tok\/s/.exec(speed)[1]);
      rates[n].push(rate);
      console.log(`round ${r + 1}, ${n} thread(s): ${speed}  [${status.split('; ').slice(-2).join('; ')}]  load ${load()}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const n of counts) console.log(`${n} thread(s): median ${median(rates[n]).toFixed(2)} tok/s decode (${rates[n].join(', ')})`);
if (counts.includes(1)) for (const n of counts.filter((x) => x > 1)) console.log(`${n} vs 1: ${(median(rates[n]) / median(rates[1])).toFixed(2)}x`);
