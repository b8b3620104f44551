// Prefill and decode tokens/s in the page served as `npm start` serves it (cross-origin
// isolated: the threaded build), 1 thread against 2 (or the counts given), on the 2B-4T-shaped
// file (`cargo run --release --example make_2b4t_shaped` writes it into ~/.cache/bitlens). Not a
// test.
//   node scripts/bench-threads.mjs [--tokens N] [--prompt-tokens P] [--rounds R] [THREADS...]
// (www/pkg-threads must exist). The prompt is P tokens (default 128, as `npm run bench`): the
// file's vocabulary is synthetic, so its special tokens make it, one token each, after BOS.
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
const tokens = opt('--tokens', 64);
const promptTokens = Math.max(2, opt('--prompt-tokens', 128));
const PROMPT = Array.from({ length: promptTokens - 1 }, (_, i) => `<|reserved_special_token_${10 + i}|>`).join('');
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
const prefill = Object.fromEntries(counts.map((n) => [n, []]));
try {
  const { page } = await openPage(browser, `${server.url}?strict=1`);
  page.setDefaultTimeout(600_000);
  await page.evaluate(() => document.querySelector('bit-lens').setAttribute('src', '/model.gguf'));
  await waitForFile(page, 'model.gguf');
  await page.getByTestId('prompt').fill(PROMPT);
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
      rates[n].push(Number(/([\d.]+) tok\/s/.exec(speed)[1]));
      prefill[n].push(Number(/prefill ([\d.]+) tok\/s/.exec(speed)[1]));
      console.log(`round ${r + 1}, ${n} thread(s): ${speed}  [${status.split('; ').slice(-2).join('; ')}]  load ${load()}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`prompt ${promptTokens} tokens, decode ${tokens} tokens, greedy, scoring off`);
for (const n of counts) {
  console.log(`${n} thread(s): median decode ${median(rates[n]).toFixed(2)} tok/s (${rates[n].join(', ')}); prefill ${median(prefill[n]).toFixed(1)} tok/s (${prefill[n].join(', ')})`);
}
if (counts.includes(1)) {
  // Also the median of the rounds' own ratios: a round's runs are seconds apart, so a ratio
  // within a round is less moved by the host's drifting speed than a ratio of medians.
  const paired = (v, n) => median(v[n].map((x, r) => x / v[1][r])).toFixed(2);
  for (const n of counts.filter((x) => x > 1)) {
    console.log(`${n} vs 1: decode ${(median(rates[n]) / median(rates[1])).toFixed(2)}x, prefill ${(median(prefill[n]) / median(prefill[1])).toFixed(2)}x (medians); round by round, median ratio: decode ${paired(rates, n)}x, prefill ${paired(prefill, n)}x`);
  }
}
