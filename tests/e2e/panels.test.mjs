// The norms panel (statistics, rescale records, strict refusal, export) and the A/B generation
// panel, in Chromium, on the built-in models. Expected numbers come from the native CLI
// (`bitlens stats FILE`, `bitlens export`) and from the golden JSON made by tools/train/export.py.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { builtInModel as model, chooseFile, pageFixture, waitForFile } from './browser.mjs';
import { writeGguf } from './gguf-writer.mjs';

const GOLDEN = JSON.parse(readFileSync(model('shakespeare-bitnet.golden.json'), 'utf8'));
const WAIT = { timeout: 30_000 };
const TIMEOUT = { timeout: 120_000 };

/** Each test's page has the default model loaded and its norms panel filled. */
const { withPage } = pageFixture({ ...WAIT, ready: '[data-testid="norms"][data-state="ready"]' });

async function openTwin(page) {
  await page.getByTestId('builtin-1').click();
  await waitForFile(page, 'shakespeare-bitnet-prescaled.gguf');
  await page.locator('[data-testid="norm-row"][data-name="blk.0.attn_norm.weight"] td', { hasText: '0.082431' }).first().waitFor(WAIT);
}

const normRow = (page, name) => page.locator(`[data-testid="norm-row"][data-name="${name}"] td`).allTextContents();

/** Greedy generation of `n` tokens of `prompt`; returns the ids and text of each mode. */
async function generate(page, prompt, n) {
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('max-tokens').fill(String(n));
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('run').click();
  await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);
  const out = {};
  for (const mode of ['baseline', 'rescaled']) {
    const ids = await page.getByTestId(`mode-${mode}`).getAttribute('data-ids');
    out[mode] = {
      ids: ids ? ids.split(',').map(Number) : [],
      text: await page.getByTestId(`text-${mode}`).textContent(),
      speed: await page.getByTestId(`speed-${mode}`).textContent(),
      note: await page.getByTestId(`note-${mode}`).textContent(),
      charts: await page.locator(`[data-testid="probe-${mode}"] svg g.series`).count(),
      score: await page.getByTestId(`score-${mode}`).textContent(),
      perplexity: Number(await page.getByTestId(`mode-${mode}`).getAttribute('data-perplexity')),
    };
  }
  out.verdict = await page.getByTestId('verdict').textContent();
  return out;
}

async function download(page) {
  const [dl] = await Promise.all([page.waitForEvent('download', WAIT), page.getByTestId('export').click()]);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A chart's accessible name, its <title> and its text alternative (<desc>). */
async function chartText(chart) {
  const svg = chart.locator('svg');
  return {
    role: await svg.getAttribute('role'),
    label: await svg.getAttribute('aria-label'),
    title: await svg.locator(':scope > title').textContent(),
    desc: await svg.locator(':scope > desc').textContent(),
  };
}

/** The x-axis labels the chart draws, each with its extent, left to right, as rendered. */
const xTicks = (chart) => chart.locator('svg text.x-tick').evaluateAll((ts) => ts
  .map((t) => ({ text: t.textContent, x: t.getBBox().x, right: t.getBBox().x + t.getBBox().width }))
  .sort((a, b) => a.x - b.x));

/** Asserts that any two neighbouring x labels of `ticks` are at least 3 units apart (not just apart). */
function assertNoOverlap(ticks) {
  for (let i = 1; i < ticks.length; i++) {
    assert.ok(ticks[i - 1].right + 3 <= ticks[i].x, `x labels too close: ${JSON.stringify(ticks.slice(i - 1, i + 1))}`);
  }
}

/** A file with the norms of a 30-layer model (as 2B-4T has), F32, RMS varying by layer. */
function thirtyLayerNorms() {
  const norm = (n, rms) => Array.from({ length: n }, (_, i) => rms * (0.8 + (0.4 * ((i * 7919) % 101)) / 100));
  const tensors = [];
  for (let l = 0; l < 30; l++) {
    for (const [kind, n, rms] of [['attn_norm', 256, 1 / 16], ['attn_sub_norm', 256, 0.9 + l / 60], ['ffn_norm', 256, 1.2], ['ffn_sub_norm', 640, 0.05 + l / 200]]) {
      tensors.push({ name: `blk.${l}.${kind}.weight`, dims: [n], values: norm(n, rms) });
    }
  }
  tensors.push({ name: 'output_norm.weight', dims: [256], values: norm(256, 1.5) });
  return writeGguf([['general.architecture', 'bitnet-b1.58'], ['bitnet-b1.58.block_count', 30]], tensors);
}

describe('norms panel', () => {
  test('statistics of every gamma of the default model, as `bitlens stats` prints them', TIMEOUT, () => withPage('', async (page) => {
    assert.equal(await page.locator('[data-testid="norm-row"]').count(), 17);
    assert.deepEqual(await normRow(page, 'blk.0.attn_norm.weight'), [
      '0', 'attn_norm', 'F32', '128', '0.929368', '0.077605', '0.932603', '0.677060', '1.100454', '10.5512', '0.088388', 'not pre-scaled',
    ]);
    assert.deepEqual(await normRow(page, 'blk.3.ffn_sub_norm.weight'), [
      '3', 'ffn_sub_norm', 'F32', '384', '1.066923', '0.067410', '1.069051', '0.814008', '1.263897', '20.9490', '0.051031', 'not pre-scaled',
    ]);
    assert.deepEqual(await normRow(page, 'output_norm.weight'), [
      '-', 'output_norm', 'F32', '128', '1.564149', '0.156878', '1.571997', '1.056665', '1.955173', '17.7851', '0.088388', 'not pre-scaled',
    ]);
    assert.match(await page.getByTestId('norms-verdict').textContent(), /^None of the 17 norm gammas looks pre-scaled/);
    // The chart: one line per kind plus 1/sqrt(128) and 1/sqrt(384).
    const labels = await page.locator('[data-testid="norms-chart"] svg g.series').evaluateAll((gs) => gs.map((g) => g.dataset.label));
    assert.deepEqual(labels, ['attn_norm', 'attn_sub_norm', 'ffn_norm', 'ffn_sub_norm', 'output_norm', '1/√128', '1/√384']);
    // An image to assistive technology, named by what it shows; its text alternative is the table.
    const label = 'gamma RMS per layer: log-scale line chart of attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm, output_norm, 1/√128, 1/√384 by layer (0 to out)';
    assert.deepEqual(await chartText(page.getByTestId('norms-chart')), {
      role: 'img',
      label,
      title: label,
      desc: 'The same numbers are in the norm statistics table after the chart (RMS column, one row per norm); the dashed lines are 1/√n for each n.',
    });
    assert.equal(await page.getByTestId('norms-chart-note').textContent(), 'The chart\'s numbers are in the table below (RMS column, one row per norm).');
    await page.getByTestId('norms-chart-table-link').click();
    assert.equal(await page.getByTestId('norm-table').evaluate((t) => t.getRootNode().activeElement === t), true);
    assert.deepEqual((await xTicks(page.getByTestId('norms-chart'))).map((t) => t.text), ['0', '1', '2', '3', 'out']);
    // Off by default: no records.
    assert.equal(await page.getByTestId('rescale-outcome').getAttribute('data-status'), 'off');
    assert.equal(await page.locator('[data-testid="record-row"]').count(), 0);
    // The twin: 16 of 17 look pre-scaled (output_norm's RMS of 1.57 divided by sqrt(128) is not within 15%).
    await openTwin(page);
    assert.match(await page.getByTestId('norms-verdict').textContent(), /^16 of 17 norm gammas look pre-scaled by 1\/sqrt\(n\)/);
    assert.deepEqual((await normRow(page, 'blk.0.attn_norm.weight')).slice(-2), ['0.088388', 'looks pre-scaled by 1/sqrt(n)']);
  }));

  test('30 layers (as 2B-4T): no two x labels of a chart overlap; the narrower chart thins them', TIMEOUT, () => withPage('', async (page) => {
    await chooseFile(page, { name: 'norms30.gguf', buffer: Buffer.from(thirtyLayerNorms()) });
    await waitForFile(page, 'norms30.gguf');
    await page.locator('[data-testid="norm-row"][data-name="blk.29.ffn_sub_norm.weight"]').waitFor();
    assert.equal(await page.locator('[data-testid="norm-row"]').count(), 121);
    const chart = page.getByTestId('norms-chart');
    assert.match((await chartText(chart)).label, /^gamma RMS per layer: .* by layer \(0 to out\)$/);
    const norms = await xTicks(chart);
    assertNoOverlap(norms);
    // 640 wide: room for every layer.
    assert.deepEqual(norms.map((t) => t.text), [...Array.from({ length: 30 }, (_, i) => String(i)), 'out']);
    // The generate panel's probe chart (440 wide) for 30 layers, drawn where that panel puts it:
    // this file cannot run, so the chart module is called with a 30-layer probe.
    const probe = page.getByTestId('probe-baseline');
    await probe.evaluate(async (box) => {
      const { logLineChart } = await import('/chart.js');
      const points = Array.from({ length: 30 }, (_, i) => [i, 1 + i / 3]);
      box.replaceChildren(logLineChart({
        series: [{ label: 'residual after FFN', color: '#d9480f', points }],
        xLabels: points.map(([i]) => String(i)),
        yLabel: 'RMS (log)',
        title: 'activation RMS per layer, latest token',
        width: 440,
      }));
    });
    const ticks = await xTicks(probe);
    assertNoOverlap(ticks);
    // Every second layer, and the last (28 gives way to 29).
    assert.deepEqual(ticks.map((t) => t.text), [...Array.from({ length: 14 }, (_, i) => String(2 * i)), '29']);
  }));

  test('?rescale=1 shows one record per norm with factor sqrt(n)', TIMEOUT, () => withPage('?rescale=1', async (page) => {
    assert.equal(await page.getByTestId('rescale').isChecked(), true);
    assert.equal(await page.getByTestId('rescale-outcome').getAttribute('data-status'), 'applied');
    const rows = page.locator('[data-testid="record-row"]');
    assert.equal(await rows.count(), 17);
    const records = await rows.evaluateAll((trs) => trs.map((tr) => ({
      name: tr.dataset.name,
      factor: Number(tr.dataset.factor),
      cells: [...tr.cells].map((td) => td.textContent),
    })));
    for (const r of records) {
      const n = Number(r.cells[1]);
      assert.ok(Math.abs(r.factor - Math.sqrt(n)) < 1e-12, `${r.name}: factor ${r.factor} for n ${n}`);
      assert.equal(r.cells[2], `${Math.sqrt(n).toFixed(4)}×`);
    }
    const q = records.find((r) => r.name === 'blk.0.attn_norm.weight');
    assert.deepEqual(q.cells, ['blk.0.attn_norm.weight', '128', '11.3137×', '0.932603', '10.551198']);
    const sub = records.find((r) => r.name === 'blk.3.ffn_sub_norm.weight');
    assert.deepEqual(sub.cells, ['blk.3.ffn_sub_norm.weight', '384', '19.5959×', '1.069051', '20.949033']);
    // Unticking the box takes the records away again.
    await page.getByTestId('rescale').uncheck();
    await page.locator('[data-testid="rescale-outcome"][data-status="off"]').waitFor(WAIT);
    assert.equal(await rows.count(), 0);
  }));

  test('?rescale=1&strict=1 refuses the rescale and says so', TIMEOUT, () => withPage('?rescale=1&strict=1', async (page) => {
    assert.equal(await page.getByTestId('strict').isChecked(), true);
    assert.equal(await page.getByTestId('rescale-outcome').getAttribute('data-status'), 'refused_by_strict');
    assert.equal(
      await page.getByTestId('rescale-outcome').textContent(),
      'gamma rescale refused: strict mode forbids load-time changes to the weights; the norms are used as stored',
    );
    assert.equal(await page.locator('[data-testid="record-row"]').count(), 0);
    // Generation: the rescaled column is refused, the baseline runs.
    const out = await generate(page, GOLDEN.cases[1].prompt, 4);
    assert.deepEqual(out.baseline.ids, GOLDEN.cases[1].greedy_ids.slice(0, 4));
    assert.deepEqual(out.rescaled.ids, []);
    assert.match(out.rescaled.note, /^gamma rescale refused: strict mode/);
    // The export in strict mode is the input, byte for byte.
    const dl = await download(page);
    assert.deepEqual(dl.bytes, readFileSync(model('shakespeare-bitnet.gguf')));
  }));

  test('the export downloads the corrected GGUF', TIMEOUT, () => withPage('', async (page) => {
    // Rescale off: the input, byte for byte (its sha256 is the golden file's).
    let dl = await download(page);
    assert.equal(dl.name, 'shakespeare-bitnet-export.gguf');
    assert.equal(dl.bytes.length, 1_403_648);
    assert.equal(sha256(dl.bytes), GOLDEN.model_sha256);
    // The twin rescaled: 17 norms rewritten and the correction metadata added. Size and hash as
    // `BITNET_RESCALE_GAMMA_ON_LOAD=1 bitlens export www/models/shakespeare-bitnet-prescaled.gguf OUT`.
    await openTwin(page);
    await page.getByTestId('rescale').check();
    await page.locator('[data-testid="rescale-outcome"][data-status="applied"]').waitFor(WAIT);
    dl = await download(page);
    assert.equal(dl.name, 'shakespeare-bitnet-prescaled-rescaled.gguf');
    assert.equal(dl.bytes.length, 1_404_800);
    assert.equal(dl.bytes.subarray(0, 4).toString('latin1'), 'GGUF');
    assert.equal(sha256(dl.bytes), '5842ddb6f46579d1683901260970ab575ce39928160a11e3aabc6533b49d819a');
    assert.match(await page.getByTestId('export-note').textContent(), /^shakespeare-bitnet-prescaled-rescaled\.gguf: .* \(1404800 bytes\), 17 norms rescaled$/);
  }));
});

describe('A/B generation panel', () => {
  test('greedy in both modes: the twin rescaled gives the faithful file\'s ids', TIMEOUT, () => withPage('', async (page) => {
    const c = GOLDEN.cases[1];
    const faithful = await generate(page, c.prompt, 8);
    assert.deepEqual(faithful.baseline.ids, c.greedy_ids.slice(0, 8));
    assert.deepEqual(faithful.rescaled.ids, c.faithful_rescaled_greedy_ids.slice(0, 8));
    for (const mode of ['baseline', 'rescaled']) {
      assert.ok(faithful[mode].text.length > 0, `${mode} shows text`);
      assert.match(faithful[mode].speed, /^8 tokens, \d+\.\d tok\/s \(prefill \d+ tok\/s\)$/);
      assert.equal(faithful[mode].charts, 3, `${mode}: three probe lines`);
    }
    assert.equal(faithful.baseline.text, ' and I am a man.\n\n');
    // The probe charts: named by what they show, with every plotted value as text alternative.
    for (const mode of ['baseline', 'rescaled']) {
      const chart = await chartText(page.getByTestId(`probe-${mode}`));
      const label = 'activation RMS per layer, latest token: log-scale line chart of residual after attention, residual after FFN, attn_norm output by layer (0 to 3)';
      assert.deepEqual([chart.role, chart.label, chart.title], ['img', label, label]);
      assert.match(chart.desc, /^The values: residual after attention: 0 = [\d.]+, 1 = [\d.]+, 2 = [\d.]+, 3 = [\d.]+; residual after FFN: 0 = /);
    }
    // Prompt perplexity under each mode (scored by default): the stored gammas win here.
    for (const mode of ['baseline', 'rescaled']) {
      assert.match(faithful[mode].score, /^prompt perplexity \S+ \(mean NLL \d+\.\d{3} nats over \d+ tokens\)$/);
    }
    assert.ok(faithful.baseline.perplexity * 10 < faithful.rescaled.perplexity, JSON.stringify(faithful));
    assert.match(faithful.verdict, /^On this prompt the gammas as stored predict the text better/);
    // The pre-scaled twin: as stored it is rubbish, rescaled it is the faithful model.
    await openTwin(page);
    const twin = await generate(page, c.prompt, 8);
    assert.deepEqual(twin.baseline.ids, c.twin_baseline_greedy_ids.slice(0, 8));
    assert.deepEqual(twin.rescaled.ids, faithful.baseline.ids);
    assert.equal(twin.rescaled.text, faithful.baseline.text);
    // ... and predicts the prompt exactly as the faithful file does.
    assert.equal(twin.rescaled.perplexity, faithful.baseline.perplexity);
    assert.match(twin.verdict, /^On this prompt the rescaled gammas \(×√n\) predict the text better/);
  }));

  test('?build=baseline loads the simd128 build (the default here is the threaded one): same tokens', TIMEOUT, () => withPage('?build=baseline', async (page) => {
    await page.getByTestId('chat').check();
    const chat = await generate(page, 'Who art thou?', 4);
    assert.deepEqual(chat.baseline.ids, [198, 40, 378, 323]);
    assert.match(await page.getByTestId('run-status').textContent(), /; wasm build: simd128; 1 thread: \?build=baseline — done$/);
  }));

  test('chat template and a seeded sampled run', TIMEOUT, () => withPage('', async (page) => {
    // As `bitlens run www/models/shakespeare-bitnet.gguf --prompt "Who art thou?" --chat
    // --greedy --max-tokens 4 --json`: 16 prompt ids, then 198, 40, 378, 323.
    await page.getByTestId('chat').check();
    const chat = await generate(page, 'Who art thou?', 4);
    assert.deepEqual(chat.baseline.ids, [198, 40, 378, 323]);
    assert.match(await page.getByTestId('run-status').textContent(), /^prompt: 16 tokens; context 256 \(0\.8 MiB per mode\), greedy; 4 layers; AVX2 numerics; wasm build: simd128 \+ relaxed SIMD \+ threads; \d threads? — done$/);
    await page.getByTestId('chat').uncheck();
    // Temperature 0.8 with seed 7, twice: the same tokens (the seed is reported).
    await page.getByTestId('seed').fill('7');
    await page.getByTestId('temperature').fill('0.8');
    const runs = [];
    for (let i = 0; i < 2; i++) {
      await page.getByTestId('max-tokens').fill('12');
      await page.getByTestId('run').click();
      await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);
      assert.match(await page.getByTestId('run-status').textContent(), /, seed 7; /);
      runs.push(await page.getByTestId('mode-baseline').getAttribute('data-ids'));
    }
    assert.equal(runs[0].split(',').length, 12);
    assert.equal(runs[1], runs[0]);
  }));

  test('Stop ends a long run; a corrupt file leaves the model usable; a new file mid-run', TIMEOUT, () => withPage('', async (page) => {
    await page.getByTestId('max-tokens').fill('200');
    // Stop is clicked in the page the moment the first rescaled token shows: a click from the
    // test could arrive after the whole run (about 1.5 s here), and then Stop is not tested.
    await page.evaluate(() => {
      const root = document.querySelector('bit-lens').shadowRoot;
      const col = root.querySelector('[data-testid="mode-rescaled"]');
      new MutationObserver((_, observer) => {
        if (!col.dataset.ids) return;
        observer.disconnect();
        root.querySelector('[data-testid="stop"]').click();
      }).observe(col, { attributes: true, attributeFilter: ['data-ids'] });
    });
    await page.getByTestId('run').click();
    await page.locator('[data-testid="generate"][data-state="done"]').waitFor(WAIT);
    assert.match(await page.getByTestId('run-status').textContent(), / — stopped$/);
    const n = (await page.getByTestId('mode-baseline').getAttribute('data-ids')).split(',').length;
    assert.ok(n < 200, `${n} tokens after Stop`);

    await chooseFile(page, { name: 'corrupt.gguf', buffer: Buffer.from('GGUF\x03\x00\x00\x00 not really') });
    await page.locator('bit-lens .error', { hasText: 'corrupt.gguf' }).waitFor(WAIT);
    const c = GOLDEN.cases[1];
    const out = await generate(page, c.prompt, 4);
    assert.deepEqual(out.baseline.ids, c.greedy_ids.slice(0, 4));

    // A new file while a run is going: the run ends, the old file is freed after it, and the
    // new file runs.
    await page.getByTestId('max-tokens').fill('200');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="mode-rescaled"][data-ids]').waitFor(WAIT);
    await openTwin(page);
    assert.equal(await page.getByTestId('generate').getAttribute('data-state'), 'idle');
    const twin = await generate(page, c.prompt, 4);
    assert.deepEqual(twin.rescaled.ids, c.twin_rescaled_greedy_ids.slice(0, 4));
  }));
});
