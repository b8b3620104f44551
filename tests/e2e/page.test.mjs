// The page end to end in Chromium: the embedded model on start, a chosen and a dropped GGUF, a
// corrupt file (error shown, previous file still displayed and usable), markup in metadata.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_URL } from '../../www/config.js';
import { chooseFile, dropFile, fixturePath, pageFixture, waitForFile } from './browser.mjs';
import { ggufHeader, writeGguf } from './gguf-writer.mjs';

const I2S = fixturePath('bitnet-b158-tiny-i2_s.gguf');
const TQ2 = fixturePath('bitnet-tiny-tq2_0.gguf');
const WAIT = { timeout: 20_000 };

/** Each test's page has the default model fully loaded. */
const { withPage } = pageFixture(WAIT);

/** The cells of the tensor table's row for `name`, as text. */
async function tensorRow(page, name) {
  const row = page.locator(`bit-lens table.tensors tr[data-name="${name}"]`);
  await row.waitFor(WAIT);
  return row.locator('td').allTextContents();
}

const title = (page) => page.locator('bit-lens h2.file-name').textContent();

describe('bitlens page', () => {
  test('opens the embedded default model on start', { timeout: 60_000 }, () => withPage('', async (page) => {
    assert.equal(await title(page), basename(fileURLToPath(DEFAULT_MODEL_URL)));
    const rows = await page.locator('bit-lens table.tensors tbody tr').count();
    assert.ok(rows > 0, `${rows} tensor rows`);
    assert.match(await page.locator('bit-lens .progress-text').textContent(), / loaded in \d+\.\d\d s \(\d+ MB\/s\)$/);
    // The trained model (`bitlens inspect www/models/shakespeare-bitnet.gguf`).
    assert.equal(await title(page), 'shakespeare-bitnet.gguf');
    assert.equal(rows, 46);
    assert.deepEqual(await tensorRow(page, 'blk.0.attn_q.weight'), [
      'blk.0.attn_q.weight', 'I2_S', '[128, 128]', '1194368', '4128',
    ]);
    assert.deepEqual(await tensorRow(page, 'blk.0.ffn_down.weight'), [
      'blk.0.ffn_down.weight', 'I2_S', '[384, 128]', '1232448', '12320',
    ]);
    assert.deepEqual(await tensorRow(page, 'token_embd.weight'), [
      'token_embd.weight', 'F16', '[128, 4096]', '144768', '1048576',
    ]);
  }));

  test('an I2_S file: tensors named I2_S and sized n/4 + 32', { timeout: 60_000 }, () => withPage('', async (page) => {
    await chooseFile(page, I2S);
    await waitForFile(page, 'bitnet-b158-tiny-i2_s.gguf');
    assert.deepEqual(await tensorRow(page, 'blk.0.attn_q.weight'), [
      'blk.0.attn_q.weight', 'I2_S', '[256, 256]', '281600', '16416',
    ]);
    assert.deepEqual(await tensorRow(page, 'blk.0.ffn_down.weight'), [
      'blk.0.ffn_down.weight', 'I2_S', '[512, 256]', '398528', '32800',
    ]);
    assert.deepEqual(await tensorRow(page, 'token_embd.weight'), [
      'token_embd.weight', 'F16', '[256, 512]', '17408', '262144',
    ]);
    const arch = page.locator('bit-lens table.metadata tr[data-key="general.architecture"] td');
    assert.deepEqual(await arch.allTextContents(), ['general.architecture', 'string', 'bitnet-b1.58']);
    // f32 values in their shortest exact form, not as the f64 they widen to.
    const eps = page.locator('bit-lens table.metadata tr[data-key="bitnet-b1.58.attention.layer_norm_rms_epsilon"] td.value');
    assert.equal(await eps.textContent(), '0.00001');
    const vocab = page.locator('bit-lens table.metadata tr[data-key="tokenizer.ggml.tokens"] td.value');
    assert.match(await vocab.textContent(), /^\[string × 512\] "/);
    const progress = await page.locator('bit-lens .progress-text').textContent();
    assert.match(progress, /^bitnet-b158-tiny-i2_s\.gguf: 572\.4 KiB loaded in \d+\.\d\d s/);
  }));

  test('a chosen file replaces the table', { timeout: 60_000 }, () => withPage('', async (page) => {
    await chooseFile(page, TQ2);
    await waitForFile(page, 'bitnet-tiny-tq2_0.gguf');
    assert.deepEqual(await tensorRow(page, 'blk.0.attn_q.weight'), [
      'blk.0.attn_q.weight', 'TQ2_0', '[256, 256]', '149536', '16896',
    ]);
    const rows = await page.locator('bit-lens table.tensors tbody tr').count();
    assert.ok(rows > 20, `${rows} rows`);
    assert.equal(await page.locator('bit-lens table.tensors tr[data-name="blk.0.attn_sub_norm.weight"]').count(), 1);
  }));

  test('a corrupt file shows its error and leaves the previous file usable', { timeout: 60_000 }, () => withPage('', async (page) => {
    await chooseFile(page, I2S);
    await waitForFile(page, 'bitnet-b158-tiny-i2_s.gguf');
    const bytes = readFileSync(I2S);
    const bad = Buffer.from(bytes.subarray(0, 4096));
    bad[3] = 'X'.charCodeAt(0);
    await chooseFile(page, { name: 'corrupt.gguf', buffer: bad });
    const error = page.locator('bit-lens .error');
    await error.waitFor({ state: 'visible', ...WAIT });
    assert.equal(
      await error.textContent(),
      'Could not open corrupt.gguf: bad magic at offset 0: expected "GGUF", found 47 47 55 58 (bad_magic)',
    );
    // The previous file is still on screen...
    assert.equal(await title(page), 'bitnet-b158-tiny-i2_s.gguf');
    assert.equal((await tensorRow(page, 'blk.0.attn_q.weight'))[1], 'I2_S');

    // ... also after a file whose header parses but whose tensors run past its end.
    await chooseFile(page, { name: 'cut.gguf', buffer: Buffer.from(bytes.subarray(0, 300_000)) });
    await page.locator('bit-lens .error', { hasText: 'cut.gguf' }).waitFor(WAIT);
    assert.match(
      await error.textContent(),
      /^Could not open cut\.gguf: tensor '[^']+': data spans bytes \d+\.\.\d+ but the file has 300000 bytes \(tensor_past_end\)$/,
    );
    assert.equal(await title(page), 'bitnet-b158-tiny-i2_s.gguf');

    // ... and after an empty file.
    await chooseFile(page, { name: 'empty.gguf', buffer: Buffer.alloc(0) });
    await page.locator('bit-lens .error', { hasText: 'empty.gguf' }).waitFor(WAIT);
    assert.equal(
      await error.textContent(),
      'Could not open empty.gguf: truncated at offset 0: magic needs 4 bytes but the file ends at 0 (truncated)',
    );
    assert.equal(await title(page), 'bitnet-b158-tiny-i2_s.gguf');

    // ... and usable: its full token list still comes from the worker.
    const tokens = page.locator('bit-lens table.metadata tr[data-key="tokenizer.ggml.tokens"]');
    await tokens.locator('button.show-all').click();
    const all = await tokens.locator('pre.all').textContent();
    const lines = all.split('\n');
    const count = Number((await tokens.locator('td').nth(2).textContent()).match(/× (\d+)/)[1]);
    assert.equal(lines.length, count);
    assert.match(lines[count - 1], new RegExp(`^${count - 1}\t"`));
  }));

  test('metadata markup is shown as text, never parsed', { timeout: 60_000 }, () => withPage('', async (page) => {
    const file = writeGguf(
      [
        ['general.architecture', 'llama'],
        ['general.name', '<b>x</b>'],
        ['test.<i>key</i>', '<img src=x onerror="window.__pwned=1">'],
        ['general.alignment', 32],
      ],
      [{ name: '<u>t</u>', dims: [4, 2] }],
    );
    await dropFile(page, 'markup.gguf', file);
    await waitForFile(page, 'markup.gguf');
    const name = page.locator('bit-lens table.metadata tr[data-key="general.name"] td.value');
    assert.equal(await name.textContent(), '<b>x</b>');
    const odd = page.locator('bit-lens table.metadata tr[data-key="test.<i>key</i>"] td');
    assert.deepEqual(await odd.allTextContents(), [
      'test.<i>key</i>', 'string', '<img src=x onerror="window.__pwned=1">',
    ]);
    assert.deepEqual(await tensorRow(page, '<u>t</u>'), ['<u>t</u>', 'F32', '[4, 2]', String(file.length - 32), '32']);
    const injected = await page.evaluate(() => {
      const root = document.querySelector('bit-lens').shadowRoot;
      return root.querySelectorAll('table b, table i, table img, table u').length;
    });
    assert.equal(injected, 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }));

  test('a big file shows its header while the data is still streaming', { timeout: 60_000 }, () => withPage('', async (page) => {
    // 48 MiB of tensor data: three and a bit 16 MiB File.slice chunks.
    const { header, dataBytes } = ggufHeader(
      [['general.architecture', 'llama']],
      [0, 1, 2].map((i) => ({ name: `big.${i}`, dims: [2048, 2048] })),
    );
    const seen = await page.evaluate(async ({ header, dataBytes }) => {
      const lens = document.querySelector('bit-lens');
      const events = [];
      const done = new Promise((resolve) => {
        lens.addEventListener('bitlens-header', (e) => events.push(['header', e.detail.info.loaded, e.detail.info.file_len]));
        lens.addEventListener('bitlens-loaded', (e) => {
          events.push(['loaded', e.detail.info.loaded, e.detail.info.file_len]);
          resolve();
        });
        lens.addEventListener('bitlens-error', (e) => {
          events.push(['error', e.detail.error.message]);
          resolve();
        });
      });
      lens.open(new File([new Uint8Array(header), new Uint8Array(dataBytes).fill(7)], 'big.gguf'));
      await done;
      return events;
    }, { header: [...header], dataBytes });
    const total = header.length + dataBytes;
    assert.equal(total, 224 + 3 * 16_777_216);
    assert.deepEqual(seen, [['header', 16 * 1024 * 1024, total], ['loaded', total, total]]);
    assert.deepEqual(await tensorRow(page, 'big.2'), ['big.2', 'F32', '[2048, 2048]', String(header.length + 2 * 16777216), '16777216']);
    assert.equal(await page.locator('bit-lens progress').evaluate((p) => [p.value, p.max].join('/')), `${total}/${total}`);
  }));
});
