// A model kept in the Cache API is checked against the server on the next visit: a conditional
// GET (the stored ETag) that the server answers 304 when the file is the same (nothing is
// downloaded), 200 with the new file when it changed (which replaces the copy); without a
// network the copy is used and the page says so.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInModel, pageFixture } from './browser.mjs';

const TIMEOUT = { timeout: 120_000 };
// The page's default model, served from a copy the tests may change.
const MODEL_PATH = '/models/shakespeare-bitnet.gguf';
const dir = mkdtempSync(join(tmpdir(), 'bitlens-cache-test-'));
const served = join(dir, 'model.gguf');
after(() => rmSync(dir, { recursive: true, force: true }));

const { open, server } = pageFixture({
  extra: { [MODEL_PATH]: served },
  ready: '[data-testid="norms"][data-state="ready"]',
  setup: () => copyFileSync(builtInModel('shakespeare-bitnet.gguf'), served),
});

const status = (page) => page.locator('bit-lens .progress-text').textContent();
const verdict = (page) => page.getByTestId('norms-verdict').textContent();

/** Reloads and waits until the norms of the file are shown again. */
async function reload(page) {
  await page.reload();
  await page.locator('bit-lens[state="loaded"]').waitFor();
  await page.locator('[data-testid="norms"][data-state="ready"]').waitFor();
}

describe('model cache revalidation', () => {
  test('unchanged on the server: the second visit asks, gets 304 and downloads nothing', TIMEOUT, async () => {
    const s = server();
    const [downloads, checks] = [s.downloads(MODEL_PATH), s.notModified(MODEL_PATH)];
    const { page, problems } = await open('');
    try {
      assert.equal(s.downloads(MODEL_PATH) - downloads, 1);
      assert.match(await status(page), /^shakespeare-bitnet\.gguf: 1\.34 MiB loaded in /);
      for (const visit of [1, 2]) {
        await reload(page);
        assert.match(await status(page), /^shakespeare-bitnet\.gguf: 1\.34 MiB loaded from the browser cache \(unchanged on the server\) in \d+\.\d\d s/);
        assert.equal(s.downloads(MODEL_PATH) - downloads, 1, 'nothing downloaded again');
        assert.equal(s.notModified(MODEL_PATH) - checks, visit, 'one conditional GET a visit');
      }
      assert.match(await verdict(page), /^None of the 17/);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test('changed on the server: the second visit downloads and shows the new file, which replaces the copy', TIMEOUT, async () => {
    const s = server();
    const downloads = s.downloads(MODEL_PATH);
    const { page, problems } = await open('');
    try {
      assert.match(await verdict(page), /^None of the 17/);
      // The pre-scaled twin takes the file's place (a later modification time: a new ETag).
      copyFileSync(builtInModel('shakespeare-bitnet-prescaled.gguf'), served);
      const later = new Date(Date.now() + 60_000);
      utimesSync(served, later, later);
      await reload(page);
      assert.equal(s.downloads(MODEL_PATH) - downloads, 2);
      assert.match(await status(page), /^shakespeare-bitnet\.gguf: 1\.34 MiB loaded in /);
      await page.locator('[data-testid="norms-verdict"]', { hasText: '16 of 17' }).waitFor();
      // The copy was replaced: the next visit gets 304 and shows the new file from the cache.
      const checks = s.notModified(MODEL_PATH);
      await reload(page);
      assert.equal(s.downloads(MODEL_PATH) - downloads, 2);
      assert.equal(s.notModified(MODEL_PATH) - checks, 1);
      assert.match(await status(page), /from the browser cache \(unchanged on the server\)/);
      await page.locator('[data-testid="norms-verdict"]', { hasText: '16 of 17' }).waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
      copyFileSync(builtInModel('shakespeare-bitnet.gguf'), served);
    }
  });

  test('offline: the cached copy is used and the page says it could not be checked', TIMEOUT, async () => {
    const { page, problems } = await open('');
    try {
      const requests = server().requests.length;
      await page.context().setOffline(true);
      // The element opens its src again (removed and added: its file was released).
      await page.evaluate(async () => {
        const lens = document.querySelector('bit-lens');
        lens.remove();
        await new Promise((r) => setTimeout(r, 50));
        document.body.append(lens);
      });
      await page.locator('bit-lens .progress-text', { hasText: 'offline' }).waitFor();
      assert.match(await status(page), /^shakespeare-bitnet\.gguf: 1\.34 MiB loaded from the browser cache \(offline: the server could not be reached, so this copy may be out of date\) in /);
      await page.locator('bit-lens[state="loaded"]').waitFor();
      assert.match(await verdict(page), /^None of the 17/);
      assert.equal(server().requests.length, requests, 'nothing reached the server');
      assert.deepEqual(problems, []);
    } finally {
      await page.context().setOffline(false);
      await page.close();
    }
  });
});
