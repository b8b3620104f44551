// The page's newer pieces in Chromium: the first token where the modes part, the sampler
// inputs (top-k, top-p, repetition penalty; ids as the CLI's), the model cache (second visit
// from the Cache API, Clear), the memory estimate and the refusal of a file that cannot fit,
// the Content-Security-Policy and the keyboard-usable drop zone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtInModel, dropSizedFile, fixturePath, pageFixture, runCli, waitForFile } from './browser.mjs';
import { writeGguf } from './gguf-writer.mjs';

const GOLDEN = JSON.parse(readFileSync(builtInModel('shakespeare-bitnet.golden.json'), 'utf8'));
const WAIT = { timeout: 30_000 };
const TIMEOUT = { timeout: 120_000 };
const MODEL_PATH = '/models/shakespeare-bitnet.gguf';

const { open, withPage, server } = pageFixture({ ...WAIT, ready: '[data-testid="norms"][data-state="ready"]' });

const ids = async (page, mode) => {
  const v = await page.getByTestId(`mode-${mode}`).getAttribute('data-ids');
  return v ? v.split(',').map(Number) : [];
};

async function run(page, settings) {
  for (const [testid, value] of Object.entries(settings)) await page.getByTestId(testid).fill(String(value));
  await page.getByTestId('run').click();
  await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);
}

describe('page features', () => {
  test('the first token where baseline and rescaled part is marked in both columns', TIMEOUT, () => withPage('', async (page) => {
    const c = GOLDEN.cases[1];
    await run(page, { prompt: c.prompt, 'max-tokens': 6, temperature: 0 });
    // The faithful model: the stored gammas say " and", the rescaled ones " sir": token 0.
    assert.notEqual(c.greedy_ids[0], c.faithful_rescaled_greedy_ids[0]);
    for (const mode of ['baseline', 'rescaled']) {
      assert.equal(await page.getByTestId(`mode-${mode}`).getAttribute('data-diverge-at'), '0');
      assert.equal(await page.getByTestId(`diverge-${mode}`).textContent(), 'The modes part at token 0 (counting from 0), marked in the text.');
      const marked = page.locator(`[data-testid="text-${mode}"] .diverge`);
      assert.equal(await marked.count(), 1);
      assert.equal(await marked.evaluate((s) => s === s.parentNode.firstChild), true);
    }
    const first = await page.locator('[data-testid="text-baseline"] .diverge').textContent();
    assert.equal(first, ' and');
    // The text is still the whole text.
    assert.equal(await page.getByTestId('text-baseline').textContent(), ' and I am a man.');
  }));

  test('top-k, top-p and repetition penalty: the tokens of `bitlens run` with the same settings', TIMEOUT, () => withPage('?strict=1', async (page) => {
    const c = GOLDEN.cases[1];
    const cli = JSON.parse(runCli(['run', builtInModel('shakespeare-bitnet.gguf'), '--prompt', c.prompt, '--max-tokens', '12',
      '--temp', '0.8', '--top-k', '3', '--top-p', '0.9', '--repeat-penalty', '1.5', '--seed', '5', '--json']));
    assert.deepEqual(
      [await page.getByTestId('top-k').inputValue(), await page.getByTestId('top-p').inputValue(), await page.getByTestId('repeat-penalty').inputValue()],
      ['40', '0.95', '1'],
    );
    await run(page, { prompt: c.prompt, 'max-tokens': 12, temperature: 0.8, seed: 5, 'top-k': 3, 'top-p': 0.9, 'repeat-penalty': 1.5 });
    assert.deepEqual(await ids(page, 'baseline'), cli.generated_ids);
    // top-k 1 is greedy at any temperature.
    await run(page, { 'top-k': 1, 'repeat-penalty': 1 });
    assert.deepEqual(await ids(page, 'baseline'), c.greedy_ids.slice(0, 12));
  }));

  test('a model opened by URL is cached: the second visit does not download it; Clear empties the cache', TIMEOUT, async () => {
    const before = server().downloads(MODEL_PATH);
    const checked = server().notModified(MODEL_PATH);
    const { page, problems } = await open('');
    try {
      assert.equal(server().downloads(MODEL_PATH) - before, 1);
      const list = page.getByTestId('cache-list');
      await page.locator('[data-testid="cache-list"]', { hasText: 'shakespeare-bitnet.gguf (1.34 MiB)' }).waitFor(WAIT);
      assert.equal(await list.textContent(), 'shakespeare-bitnet.gguf (1.34 MiB)');
      await page.reload();
      await page.locator('bit-lens[state="loaded"]').waitFor(WAIT);
      assert.match(await page.locator('bit-lens .progress-text').textContent(), /^shakespeare-bitnet\.gguf: 1\.34 MiB loaded from the browser cache \(unchanged on the server\) in \d+\.\d\d s/);
      // Revalidated (one 304), not downloaded again.
      assert.equal(server().downloads(MODEL_PATH) - before, 1);
      assert.equal(server().notModified(MODEL_PATH) - checked, 1);
      // The twin is added; Clear empties both.
      await page.getByTestId('builtin-1').click();
      await waitForFile(page, 'shakespeare-bitnet-prescaled.gguf');
      await page.locator('[data-testid="cache-list"]', { hasText: 'prescaled' }).waitFor(WAIT);
      await page.getByTestId('clear-cache').click();
      await page.locator('[data-testid="cache-list"]', { hasText: 'nothing' }).waitFor(WAIT);
      assert.equal(await page.getByTestId('clear-cache').isHidden(), true);
      assert.equal(await page.evaluate(async () => (await caches.keys()).length), 0);
      await page.reload();
      await page.locator('bit-lens[state="loaded"]').waitFor(WAIT);
      assert.equal(server().downloads(MODEL_PATH) - before, 2);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test('the memory a file needs is estimated from its header; a file that cannot fit is refused', TIMEOUT, () => withPage('', async (page) => {
    assert.equal(
      await page.getByTestId('memory').textContent(),
      'Memory to run: about 2.86 MiB: the file 1.34 MiB + 2 modes × 776.6 KiB (KV cache 256.0 KiB for 256 positions, activations 508.1 KiB).',
    );
    // A 70B-shaped llama header (no GQA): 80 layers of 8192, 2048 positions: 5 GiB of F16 KV cache per mode.
    const huge = writeGguf([
      ['general.architecture', 'llama'],
      ['llama.embedding_length', 8192],
      ['llama.block_count', 80],
      ['llama.feed_forward_length', 28672],
      ['llama.attention.head_count', 64],
      ['llama.context_length', 4096],
      ['llama.vocab_size', 32000],
    ]);
    await page.locator('bit-lens input[type=file]').setInputFiles({ name: 'huge.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from(huge) });
    const error = page.locator('bit-lens .error');
    await error.waitFor({ state: 'visible', ...WAIT });
    assert.match(
      await error.textContent(),
      /^Could not open huge\.gguf: huge\.gguf needs about 10358\.7 MiB of WebAssembly memory \(file 0\.0 MiB \+ 2 × 5147\.4 MiB per mode \(KV cache 5120\.0 MiB for 2048 positions, activations 27\.4 MiB\) \+ 64\.0 MiB scratch\); other open files hold 1\.3 MiB; a browser tab's WebAssembly memory holds at most 4 GiB \(too_large\)$/,
    );
    // The page and the model it had still work.
    assert.equal(await page.locator('bit-lens h2.file-name').textContent(), 'shakespeare-bitnet.gguf');
    await run(page, { 'max-tokens': 2, temperature: 0 });
    assert.equal((await ids(page, 'baseline')).length, 2);
  }));

  test('a file over 2 GiB - 1 bytes (one wasm32 allocation) is refused with its size and the limit; the model before keeps working', TIMEOUT, () => withPage('', async (page) => {
    // The built-in model's header and data, then zeros: a real File of 2^31 bytes (and of
    // 4 GiB), which the worker reads only as far as the header before refusing it.
    const error = page.locator('bit-lens .error');
    for (const size of [2 ** 31, 2 ** 32]) {
      await dropSizedFile(page, 'big.gguf', MODEL_PATH, size);
      await page.locator('bit-lens .error', { hasText: `${size} bytes` }).waitFor(WAIT);
      assert.equal(
        await error.textContent(),
        `Could not open big.gguf: the file has ${size} bytes; one wasm32 allocation holds at most 2147483647 bytes (too_large)`,
      );
      // The page and the model it had still work.
      assert.equal(await page.locator('bit-lens h2.file-name').textContent(), 'shakespeare-bitnet.gguf');
    }
    await run(page, { prompt: GOLDEN.cases[1].prompt, 'max-tokens': 3, temperature: 0 });
    assert.deepEqual(await ids(page, 'baseline'), GOLDEN.cases[1].greedy_ids.slice(0, 3));
  }));

  test('Content-Security-Policy: scripts, wasm and the worker from the page\'s origin, no other network', TIMEOUT, async () => {
    const { page, problems } = await open('');
    try {
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
      assert.match(csp, /worker-src 'self'/);
      assert.match(csp, /default-src 'none'/);
      // The page works under it (loaded, norms ready: no violation so far) ...
      assert.deepEqual(problems, []);
      // ... and another origin is out of reach.
      const blocked = await page.evaluate(async () => {
        const seen = new Promise((r) => document.addEventListener('securitypolicyviolation', (e) => r(e.effectiveDirective), { once: true }));
        const res = await fetch('http://127.0.0.2:9/model.gguf').then(() => 'fetched', () => 'refused');
        return [res, await seen];
      });
      assert.deepEqual(blocked, ['refused', 'connect-src']);
    } finally {
      await page.close();
    }
  });

  test('the drop zone is reachable and usable from the keyboard', TIMEOUT, () => withPage('', async (page) => {
    // Each chooser is awaited from before the keys that lead to it: the wait turns on the
    // browser's chooser interception, and a chooser opened before that is lost (seen 1 run in 6).
    const firstChooser = page.waitForEvent('filechooser');
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    const focused = () => page.evaluate(() => document.querySelector('bit-lens').shadowRoot.activeElement?.dataset.testid ?? null);
    let steps = 0;
    while ((await focused()) !== 'drop' && steps++ < 10) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'drop', 'Tab reaches the drop zone');
    assert.match(await page.getByTestId('drop').getAttribute('aria-label'), /press Enter/);
    await page.keyboard.press('Enter');
    const chooser = await firstChooser;
    await chooser.setFiles(fixturePath('bitnet-b158-tiny-i2_s.gguf'));
    await waitForFile(page, 'bitnet-b158-tiny-i2_s.gguf');
    // The next Tab stop is the "choose one" button, which opens the chooser too.
    const secondChooser = page.waitForEvent('filechooser');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'choose');
    await page.keyboard.press('Space');
    const again = await secondChooser;
    await again.setFiles(fixturePath('bitnet-tiny-tq2_0.gguf'));
    await waitForFile(page, 'bitnet-tiny-tq2_0.gguf');
  }));
});
