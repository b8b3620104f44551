// examples/docs-site: a real MkDocs site (Material theme, from PyPI) embedding bitlens from
// dist/, built with `mkdocs build` into a temporary folder and checked page by page in
// Chromium, including Material's instant navigation (pages swapped in without a reload).
// MkDocs and Material are installed into a cached venv (~/.cache/bitlens/mkdocs-venv) when
// missing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_DIR, buildDist, pageFixture, repoPath } from './browser.mjs';

const VENV = join(CACHE_DIR, 'mkdocs-venv');
const MKDOCS = join(VENV, 'bin', 'mkdocs');
const TIMEOUT = { timeout: 180_000 };

/** MkDocs and Material from PyPI, into the cached venv, once. */
function ensureMkdocs() {
  if (existsSync(MKDOCS) && existsSync(join(VENV, 'bin', 'python'))) {
    try {
      execFileSync(join(VENV, 'bin', 'python'), ['-c', 'import material'], { stdio: 'ignore' });
      return;
    } catch {
      // Material is missing: install below.
    }
  }
  execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', 'mkdocs', 'mkdocs-material'], { stdio: 'inherit' });
}

/**
 * The example site with dist/ at docs/bitlens/, built into `site` for the server at `url`
 * (Material's instant navigation needs site_url to name the server, port included).
 */
function buildSite(site, url) {
  const work = mkdtempSync(join(tmpdir(), 'bitlens-docs-'));
  cpSync(repoPath('examples', 'docs-site'), work, { recursive: true });
  cpSync(buildDist(), join(work, 'docs', 'bitlens'), { recursive: true });
  execFileSync(MKDOCS, ['build', '--quiet', '--strict', '--site-dir', site], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NO_MKDOCS_2_WARNING: '1', SITE_URL: url },
  });
}

// The server starts on an empty folder; the site is built into it once its URL is known.
let site;
const { withPage } = pageFixture({
  setup: () => {
    ensureMkdocs();
    site = mkdtempSync(join(tmpdir(), 'bitlens-docs-site-'));
  },
  root: () => site,
  served: (server) => buildSite(site, server.url),
  loaded: null,
  timeout: 60_000,
});

const normsReady = (page, id) => page.locator(`#${id} [data-testid="norms"][data-state="ready"]`).waitFor();

async function checkNormsPage(page) {
  await normsReady(page, 'trained');
  await normsReady(page, 'twin');
  assert.match(await page.locator('#trained [data-testid="norms-verdict"]').textContent(), /^None of the 17 norm gammas/);
  assert.match(await page.locator('#twin [data-testid="norms-verdict"]').textContent(), /^16 of 17 norm gammas look pre-scaled/);
  assert.equal(await page.locator('#twin [data-testid="generate"]').evaluate((n) => n.checkVisibility()), false);
  assert.equal(await page.locator('#twin table.tensors').evaluate((n) => n.checkVisibility()), false);
}

/** Clicks a link of Material's navigation and waits for the new page's title. */
async function navigate(page, label, title) {
  await page.locator('nav.md-nav--primary a.md-nav__link', { hasText: label }).first().click();
  await page.locator('article h1', { hasText: title }).waitFor();
}

describe('MkDocs site embedding bitlens (examples/docs-site)', () => {
  test('norms page: the trained model and its pre-scaled twin, norms only', TIMEOUT, () => withPage('norms/', async (page) => {
    await checkNormsPage(page);
  }));

  test('generation page: a compact generation of the twin', TIMEOUT, () => withPage('generate/', async (page) => {
    await page.locator('bit-lens[state="loaded"]').waitFor();
    assert.equal(await page.getByTestId('drop').evaluate((n) => n.checkVisibility()), false);
    assert.equal(await page.getByTestId('prompt').inputValue(), 'Ham.\nTo be, or not to be,');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="generate"][data-state="done"]').waitFor();
    const ids = (mode) => page.getByTestId(`mode-${mode}`).getAttribute('data-ids');
    assert.equal((await ids('baseline')).split(',').length, 12);
    // The twin rescaled is the trained model: " and I am a man." (tests/e2e/panels.test.mjs).
    assert.match(await page.getByTestId('text-rescaled').textContent(), /^ and I am a man\./);
  }));

  test('JS API page: a table of norm RMS printed by a script', TIMEOUT, () => withPage('api/', async (page) => {
    await page.locator('norm-rms-table[state="done"]').waitFor();
    assert.equal(await page.locator('norm-rms-table tr').count(), 18);
    const row = await page.locator('norm-rms-table tr[data-name="blk.0.attn_norm.weight"] td').allTextContents();
    assert.deepEqual(row, ['blk.0.attn_norm.weight', '128', '0.082431', '0.088388']);
  }));

  test('instant navigation: the elements survive pages swapped in without a reload', TIMEOUT, () => withPage('', async (page) => {
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await navigate(page, 'Norms', 'The norms of two files');
    await checkNormsPage(page);
    await navigate(page, 'JS API', 'The JS API');
    await page.locator('norm-rms-table[state="done"]').waitFor();
    await navigate(page, 'Generation', 'Running the twin both ways');
    await page.locator('bit-lens[state="loaded"]').waitFor();
    await navigate(page, 'Norms', 'The norms of two files');
    await checkNormsPage(page);
    // All of it in one document: Material's instant navigation, not page loads.
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
    assert.match(page.url(), /\/norms\/$/);
  }));
});
