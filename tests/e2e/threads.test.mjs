// Threads in the page: served cross-origin isolated (as `npm start` serves it), the worker runs
// the threaded build and a run gets the threads asked for; served without the isolation headers
// (a docs site that cannot send them), the one-thread build, and the page says why. The tokens
// are the golden ones either way (the products' rows split over threads give the same bits;
// tests/web_threads.rs compares every logit).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtInModel, pageFixture } from './browser.mjs';

const GOLDEN = JSON.parse(readFileSync(builtInModel('shakespeare-bitnet.golden.json'), 'utf8'));
const WAIT = { timeout: 60_000 };
const TIMEOUT = { timeout: 180_000 };

/** Greedy tokens of the golden prompt with `threads`: {ids, status}. */
async function run(page, threads) {
  const c = GOLDEN.cases[1];
  await page.getByTestId('prompt').fill(c.prompt);
  await page.getByTestId('max-tokens').fill('6');
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('threads').fill(String(threads));
  await page.getByTestId('run').click();
  await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);
  const ids = (await page.getByTestId('mode-baseline').getAttribute('data-ids')).split(',').map(Number);
  assert.deepEqual(ids, c.greedy_ids.slice(0, 6), `${threads} threads`);
  return page.getByTestId('run-status').textContent();
}

describe('cross-origin isolated', () => {
  const { withPage } = pageFixture(WAIT);
  test('the threaded build; 2 threads, then 1, the golden tokens', TIMEOUT, () => withPage('', async (page) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(await page.getByTestId('threads').inputValue(), String(await page.evaluate(() => Math.min(8, navigator.hardwareConcurrency))));
    assert.equal(await page.getByTestId('threads-note').textContent(), '');
    assert.match(await run(page, 2), /; wasm build: simd128 \+ relaxed SIMD \+ threads; 2 threads — done$/);
    assert.match(await run(page, 1), /; wasm build: simd128 \+ relaxed SIMD \+ threads; 1 thread — done$/);
  }));
});

describe('not cross-origin isolated', () => {
  const { withPage } = pageFixture({ ...WAIT, isolate: false });
  test('one thread, and the page says why', TIMEOUT, () => withPage('', async (page) => {
    const why = '1 thread: this page is not cross-origin isolated';
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.equal(await page.getByTestId('threads-note').textContent(), why);
    const status = await run(page, 2);
    assert.ok(status.endsWith(`; wasm build: simd128 + relaxed SIMD; ${why} — done`), status);
  }));
});
