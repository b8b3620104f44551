// <bit-lens> from the prebuilt folder, on static pages with nothing else of bitlens: the
// attributes (panels, compact, prompt, max-tokens, rescale, strict), theming (custom
// properties, ::part, the dark scheme), several elements sharing one worker and one download,
// and an element moved or removed and added again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtInModel, distSite, pageFixture } from './browser.mjs';

const DIST = 'vendor/deep/bitlens/';
const MODEL = `/${DIST}models/shakespeare-bitnet.gguf`;
const TWIN = `/${DIST}models/shakespeare-bitnet-prescaled.gguf`;
const TIMEOUT = { timeout: 120_000 };
const GOLDEN = JSON.parse(readFileSync(builtInModel('shakespeare-bitnet.golden.json'), 'utf8'));

const page = (body, head = '') => `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="${DIST}bit-lens.js"></script>${head}</head><body>${body}</body></html>`;

let root;
const { withPage, server } = pageFixture({
  setup: () => {
    root = distSite({
      'norms.html': page(`<bit-lens id="a" src="${MODEL}" panels="norms"></bit-lens>
        <bit-lens id="b" src="${TWIN}" panels="norms"></bit-lens>
        <bit-lens id="c" src="${MODEL}" panels="norms tensors" compact></bit-lens>`),
      'compact.html': page(`<bit-lens src="${MODEL}" panels="generate" compact strict prompt="To be, or not" max-tokens="5"></bit-lens>`),
      'rescale.html': page(`<bit-lens src="${MODEL}" panels="norms" rescale></bit-lens>`),
      'theme.html': page(`<bit-lens src="${MODEL}" panels="norms"></bit-lens>`, `<link rel="stylesheet" href="theme.css">`),
      'shared.html': page(`<bit-lens id="x" src="${MODEL}" panels="generate" compact max-tokens="24"></bit-lens>
        <bit-lens id="y" src="${MODEL}" panels="generate" compact max-tokens="24"></bit-lens>`),
      'theme.css': 'bit-lens { --bitlens-fg: rgb(1, 2, 3); --bitlens-font: serif; } bit-lens::part(norms) { border: 3px solid rgb(4, 5, 6); }',
    });
  },
  root: () => root,
  loaded: null,
  timeout: 30_000,
});

const loaded = (page, sel = 'bit-lens') => page.locator(`${sel}[state="loaded"]`).waitFor();
const visible = (locator) => locator.evaluate((n) => n.checkVisibility());

describe('<bit-lens> attributes', () => {
  test('panels: norms only, three elements, one worker and one download per file', TIMEOUT, () => withPage('norms.html', async (page) => {
    const before = server().count(MODEL);
    for (const id of ['a', 'b', 'c']) await loaded(page, `#${id}`);
    await page.locator('#b [data-testid="norms-verdict"]', { hasText: '16 of 17' }).waitFor();
    const a = page.locator('#a');
    assert.equal(await visible(a.getByTestId('norms')), true);
    assert.equal(await visible(a.getByTestId('generate')), false);
    assert.equal(await visible(a.locator('table.metadata')), false);
    assert.equal(await visible(a.locator('table.tensors')), false);
    assert.equal(await visible(a.locator('h2.file-name')), true);
    assert.equal(await a.locator('[data-testid="norm-row"]').count(), 17);
    assert.match(await a.getByTestId('norms-verdict').textContent(), /^None of the 17/);
    // compact: no drop zone, no header text, no status; its panels alone.
    const c = page.locator('#c');
    assert.equal(await visible(c.getByTestId('drop')), false);
    assert.equal(await visible(c.locator('h2.file-name')), false);
    assert.equal(await visible(c.locator('.status')), false);
    assert.equal(await visible(c.locator('table.tensors')), true);
    // One worker for the three (besides the threaded build's pool, blob: workers it starts); a
    // and c name the same URL: one download, one copy (c's handle is shared).
    assert.equal(page.workers().filter((w) => !w.url().startsWith('blob:')).length, 1);
    assert.equal(server().count(MODEL) - before, 1);
    const shared = await page.evaluate(() => ['a', 'b', 'c'].map((id) => document.getElementById(id).lens.shared));
    assert.equal(shared.filter(Boolean).length, 1);
    assert.equal(shared[1], false);
    assert.equal(await page.evaluate(() => document.getElementById('c').shadowRoot.querySelector('.progress-text').textContent), 'shakespeare-bitnet.gguf: 1.34 MiB, already open on this page');
    // The shared handle has the header's memory estimate too.
    const memory = await page.evaluate(() => ['a', 'c'].map((id) => document.getElementById(id).shadowRoot.querySelector('[data-testid="memory"]').textContent));
    assert.match(memory[0], /^Memory to run: about 2\.86 MiB/);
    assert.equal(memory[1], memory[0]);
  }));

  test('compact, prompt, max-tokens, strict: a compact generation', TIMEOUT, () => withPage('compact.html', async (page) => {
    await loaded(page);
    assert.equal(await visible(page.getByTestId('drop')), false);
    assert.equal(await visible(page.getByTestId('norms')), false);
    assert.equal(await page.getByTestId('prompt').inputValue(), 'To be, or not');
    assert.equal(await page.getByTestId('max-tokens').inputValue(), '5');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="generate"][data-state="done"]').waitFor();
    assert.equal((await page.getByTestId('mode-baseline').getAttribute('data-ids')).split(',').length, 5);
    assert.match(await page.getByTestId('note-rescaled').textContent(), /^gamma rescale refused: strict mode/);
    // Attributes change later too.
    await page.evaluate(() => document.querySelector('bit-lens').setAttribute('max-tokens', '3'));
    assert.equal(await page.getByTestId('max-tokens').inputValue(), '3');
  }));

  test('rescale and strict attributes; the src attribute opens another file', TIMEOUT, () => withPage('rescale.html', async (page) => {
    await loaded(page);
    await page.locator('[data-testid="rescale-outcome"][data-status="applied"]').waitFor();
    assert.equal(await page.locator('[data-testid="record-row"]').count(), 17);
    await page.evaluate(() => document.querySelector('bit-lens').setAttribute('strict', ''));
    await page.locator('[data-testid="rescale-outcome"][data-status="refused_by_strict"]').waitFor();
    await page.evaluate(() => document.querySelector('bit-lens').removeAttribute('rescale'));
    await page.evaluate(() => document.querySelector('bit-lens').removeAttribute('strict'));
    await page.locator('[data-testid="rescale-outcome"][data-status="off"]').waitFor();
    await page.evaluate((twin) => document.querySelector('bit-lens').setAttribute('src', twin), TWIN);
    await page.locator('bit-lens h2.file-name', { hasText: 'prescaled' }).waitFor();
    await page.locator('[data-testid="norms-verdict"]', { hasText: '16 of 17' }).waitFor();
  }));

  test('two elements generating on one shared file: both finish, with the tokens each gives alone', TIMEOUT, () => withPage('shared.html', async (page) => {
    for (const id of ['x', 'y']) await loaded(page, `#${id}`);
    assert.deepEqual(await page.evaluate(() => ['x', 'y'].map((id) => document.getElementById(id).lens.shared)), [false, true]);
    // Different prompts, greedy: each element's tokens must be its own prompt's, in both modes.
    const cases = { x: GOLDEN.cases[1], y: GOLDEN.cases[4] };
    const panel = (id) => page.locator(`#${id} [data-testid="generate"]`);
    const ids = async (id, mode) => (await page.locator(`#${id} [data-testid="mode-${mode}"]`).getAttribute('data-ids')).split(',').map(Number);
    const want = (c) => ({ baseline: c.greedy_ids.slice(0, 24), rescaled: c.faithful_rescaled_greedy_ids.slice(0, 24) });
    for (const id of ['x', 'y']) {
      await page.locator(`#${id} [data-testid="prompt"]`).fill(cases[id].prompt);
      await page.locator(`#${id} [data-testid="temperature"]`).fill('0');
    }
    // Alone: x, then y.
    const alone = {};
    for (const id of ['x', 'y']) {
      await page.locator(`#${id} [data-testid="run"]`).click();
      await panel(id).and(page.locator('[data-state="done"]')).waitFor();
      alone[id] = { baseline: await ids(id, 'baseline'), rescaled: await ids(id, 'rescaled') };
      assert.deepEqual(alone[id], want(cases[id]), `${id} alone`);
    }
    // Together: both Run buttons pressed in one task. y waits for x's turn and says so.
    const seen = await page.evaluate(() => new Promise((resolve) => {
      const states = { x: [], y: [] };
      const roots = ['x', 'y'].map((id) => document.getElementById(id).shadowRoot.querySelector('[data-testid="generate"]'));
      const statusOf = (r) => r.querySelector('[data-testid="run-status"]').textContent;
      const observer = new MutationObserver(() => {
        roots.forEach((r, i) => {
          const list = states[['x', 'y'][i]];
          const s = `${r.dataset.state}: ${r.dataset.state === 'waiting' ? statusOf(r) : ''}`;
          if (list.at(-1) !== s) list.push(s);
        });
        if (roots.every((r) => r.dataset.state === 'done')) {
          observer.disconnect();
          resolve(states);
        }
      });
      roots.forEach((r) => observer.observe(r, { attributes: true, attributeFilter: ['data-state'], subtree: true, childList: true, characterData: true }));
      roots.forEach((r) => r.querySelector('[data-testid="run"]').click());
    }));
    assert.deepEqual(seen.x, ['running: ', 'done: ']);
    assert.deepEqual(seen.y, ['running: ', 'waiting: waiting: another generation on this file runs first…', 'running: ', 'done: ']);
    for (const id of ['x', 'y']) {
      assert.deepEqual({ baseline: await ids(id, 'baseline'), rescaled: await ids(id, 'rescaled') }, alone[id], `${id} beside the other`);
      assert.match(await page.locator(`#${id} [data-testid="run-status"]`).textContent(), / — done$/);
    }
  }));

  test('themable: custom properties, ::part, prefers-color-scheme: dark', TIMEOUT, () => withPage('theme.html', async (page) => {
    await loaded(page);
    const host = page.locator('bit-lens');
    assert.equal(await host.evaluate((n) => getComputedStyle(n).color), 'rgb(1, 2, 3)');
    assert.match(await host.evaluate((n) => getComputedStyle(n).fontFamily), /serif/);
    assert.equal(await page.getByTestId('norms').evaluate((n) => getComputedStyle(n).borderTopColor), 'rgb(4, 5, 6)');
    // Unthemed colour: light by default, light text on dark in the dark scheme.
    const verdict = page.getByTestId('norms-verdict');
    await page.evaluate(() => document.querySelector('link[href="theme.css"]').remove());
    assert.equal(await host.evaluate((n) => getComputedStyle(n).color), 'rgb(29, 29, 31)');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await host.evaluate((n) => getComputedStyle(n).color), 'rgb(232, 232, 234)');
    assert.equal(await verdict.evaluate((n) => getComputedStyle(n).color), 'rgb(232, 232, 234)');
    const parts = await page.evaluate(() => [...document.querySelector('bit-lens').shadowRoot.querySelectorAll('[part]')].map((n) => n.getAttribute('part')));
    assert.deepEqual(parts.sort(), ['drop', 'error', 'generate', 'header', 'metadata', 'norms', 'status', 'tensors']);
  }));

  test('an element moved keeps its file; removed and added again, it opens it again', TIMEOUT, () => withPage('theme.html', async (page) => {
    await loaded(page);
    const [before, checks] = [server().downloads(MODEL), server().notModified(MODEL)];
    // Moved within the document: disconnected and connected in one task.
    await page.evaluate(() => {
      const lens = document.querySelector('bit-lens');
      const box = document.createElement('div');
      document.body.append(box);
      box.append(lens);
    });
    await page.waitForTimeout(200);
    assert.equal(await page.locator('bit-lens').getAttribute('state'), 'loaded');
    assert.equal(await page.evaluate(() => document.querySelector('bit-lens').lens.closed), false);
    // Removed: its handle is closed; added again: it opens its src again and works.
    await page.evaluate(async () => {
      const lens = document.querySelector('bit-lens');
      const handle = lens.lens;
      lens.remove();
      await new Promise((r) => setTimeout(r, 50));
      window.__closed = handle.closed;
      document.body.append(lens);
    });
    assert.equal(await page.evaluate(() => window.__closed), true);
    await page.locator('[data-testid="norm-row"]').first().waitFor();
    await loaded(page);
    assert.equal(await page.locator('[data-testid="norm-row"]').count(), 17);
    assert.equal(server().downloads(MODEL) - before, 0, 'the second open came from the cache');
    assert.equal(server().notModified(MODEL) - checks, 1, 'after a conditional GET');
  }));
});
