// The real SmolLM2-135M-Instruct Q4_1 file (98 MB, fetched into the cache by
// scripts/fetch-smollm2.sh) opened by URL in the page, then run greedily with the numerics of
// the AVX-512 llama.cpp build that made tests/data/smollm2/greedy.json: the page's tokens are
// llama.cpp's, and "The capital of France is" goes on with " Paris"; with 2 threads (the
// threaded build: the page is cross-origin isolated) and again with 1, the same tokens.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, pageFixture, repoPath, waitForFile } from './browser.mjs';

const SMOLLM2 = join(CACHE_DIR, 'SmolLM2-135M-Instruct.Q4_1.gguf');
const GOLDEN = JSON.parse(readFileSync(repoPath('tests', 'data', 'smollm2', 'greedy.json'), 'utf8'));
const WAIT = { timeout: 120_000 };

before(() => {
  assert.ok(existsSync(SMOLLM2), `${SMOLLM2} is missing: run scripts/fetch-smollm2.sh (scripts/test.sh does)`);
});
const { withPage } = pageFixture({ extra: { '/smollm2.gguf': SMOLLM2 }, ...WAIT });

test('SmolLM2 in the page: greedy tokens equal llama.cpp (AVX-512 numerics), France -> Paris', { timeout: 300_000 }, () => withPage('?strict=1', async (page) => {
  // Strict mode: only the baseline runs (the file's gammas as stored), half the work.
  await page.evaluate(() => document.querySelector('bit-lens').setAttribute('src', '/smollm2.gguf'));
  await waitForFile(page, 'smollm2.gguf');

  const c = GOLDEN.cases[0];
  assert.equal(c.prompt, 'The capital of France is');
  await page.getByTestId('prompt').fill(c.prompt);
  await page.getByTestId('max-tokens').fill(String(c.greedy_ids.length));
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('isa').selectOption('avx512');
  for (const threads of [2, 1]) {
    await page.getByTestId('threads').fill(String(threads));
    await page.getByTestId('run').click();
    await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);

    const status = await page.getByTestId('run-status').textContent();
    assert.match(status, new RegExp(`prompt: ${c.prompt_ids.length} tokens`));
    assert.match(status, /AVX-512 numerics/);
    assert.match(status, new RegExp(`wasm build: simd128 \\+ relaxed SIMD \\+ threads; ${threads} threads? — done$`));
    const ids = (await page.getByTestId('mode-baseline').getAttribute('data-ids')).split(',').map(Number);
    assert.deepEqual(ids, c.greedy_ids, `${threads} threads`);
    const text = await page.getByTestId('text-baseline').textContent();
    assert.equal(text, c.greedy_text);
    assert.ok(text.startsWith(' Paris'), text);
    assert.match(await page.getByTestId('note-rescaled').textContent(), /strict mode/);
  }
}));
