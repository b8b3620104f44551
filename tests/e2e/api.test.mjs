// The JS API from the prebuilt folder (dist/, served at a nested path of a static site with
// nothing else of bitlens): open by URL, Blob and ArrayBuffer; info, tensors, norms (as
// `bitlens stats --json`), records, generate (async iterator, final status, stop), score,
// export, close; errors with the Rust error's kind; handles sharing one worker and one file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtInModel, distSite, pageFixture, runCli } from './browser.mjs';

const GOLDEN = JSON.parse(readFileSync(builtInModel('shakespeare-bitnet.golden.json'), 'utf8'));
const DIST = '/vendor/deep/bitlens/';
const MODEL = `${DIST}models/shakespeare-bitnet.gguf`;
const TWIN = `${DIST}models/shakespeare-bitnet-prescaled.gguf`;
const TIMEOUT = { timeout: 120_000 };

let root;
const { withPage, server } = pageFixture({
  setup: () => {
    root = distSite({ 'api.html': '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>api</title><p>bitlens API test</p>' });
  },
  root: () => root,
  loaded: null,
  timeout: 60_000,
});

/** Runs `body(api, arg)` in the page, `api` being the dist's bit-lens.js module. */
function inPage(page, body, arg) {
  return page.evaluate(async ([src, dist, a]) => {
    const api = await import(`${dist}bit-lens.js`);
    // eslint-disable-next-line no-new-func
    const fn = new Function(`return (${src})`)();
    return fn(api, a);
  }, [body.toString(), DIST, arg]);
}

describe('JS API (dist/)', () => {
  test('open a URL: info, tensors, norms as `bitlens stats --json`, records, export, close', TIMEOUT, () => withPage('api.html', async (page) => {
    const out = await inPage(page, async (api, url) => {
      const progress = [];
      const lens = await api.open(url, { onProgress: (p) => progress.push(p) });
      const info = await lens.info();
      const tensors = await lens.tensors();
      const norms = await lens.norms();
      const records = await lens.records();
      const rescaled = await lens.records({ rescale: true });
      const refused = await lens.corrections({ rescale: true, strict: true });
      const blob = await lens.export();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      const sha = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
      await lens.close();
      const closed = await lens.norms().then(() => null, (e) => [e.kind, e.message]);
      return { name: lens.name, from: lens.from, fileLen: info.file_len, tensors: tensors.length, norms, records, rescaled, refused, sha, size: blob.size, closed, lastProgress: progress.at(-1) };
    }, MODEL);
    assert.equal(out.name, 'shakespeare-bitnet.gguf');
    assert.equal(out.from, 'network');
    assert.equal(out.fileLen, 1_403_648);
    assert.deepEqual(out.lastProgress, { loaded: 1_403_648, total: 1_403_648 });
    assert.equal(out.tensors, 46);
    // The same report as the CLI's.
    const stats = JSON.parse(runCli(['stats', builtInModel('shakespeare-bitnet.gguf'), '--json']));
    assert.deepEqual(out.norms, JSON.parse(JSON.stringify(stats.report)));
    assert.deepEqual(out.records, []);
    assert.equal(out.rescaled.length, 17);
    const q = out.rescaled.find((r) => r.name === 'blk.0.attn_norm.weight');
    assert.equal(q.factor, Math.sqrt(128));
    assert.equal(out.refused.outcome.status, 'refused_by_strict');
    assert.deepEqual(out.refused.records, []);
    assert.equal(out.size, 1_403_648);
    assert.equal(out.sha, GOLDEN.model_sha256);
    assert.deepEqual(out.closed, ['closed', 'shakespeare-bitnet.gguf is closed']);
  }));

  test('generate: an async iterator of {mode, token, text, probe} with a final status; score', TIMEOUT, () => withPage('api.html', async (page) => {
    const c = GOLDEN.cases[1];
    const out = await inPage(page, async (api, { url, prompt }) => {
      const lens = await api.open(url);
      const gen = lens.generate({ prompt, maxTokens: 6, temperature: 0 });
      const tokens = [];
      let next;
      const it = gen[Symbol.asyncIterator]();
      while (!(next = await it.next()).done) tokens.push(next.value);
      const final = next.value;
      const setup = await gen.info;
      const only = [];
      for await (const t of lens.generate({ prompt, maxTokens: 3, temperature: 0, modes: ['baseline'] })) only.push(t.mode);
      // topK 1 is greedy at any temperature.
      const topK1 = [];
      for await (const t of lens.generate({ prompt, maxTokens: 6, temperature: 0.9, topK: 1, seed: 3, modes: ['baseline'] })) topK1.push(t.token);
      // A signal stops the run.
      const ctl = new AbortController();
      const stopped = lens.generate({ prompt, maxTokens: 200, temperature: 0, signal: ctl.signal });
      let n = 0;
      for await (const t of stopped) if (++n === 2) ctl.abort(); // eslint-disable-line no-unused-vars
      const score = await lens.score(prompt);
      return {
        tokens: tokens.map((t) => ({ mode: t.mode, token: t.token, text: t.text, layers: t.probe.layers.length })),
        final, setup: { modes: setup.modes, promptIds: setup.promptIds }, only, topK1,
        stopped: await stopped.status, n, score,
      };
    }, { url: MODEL, prompt: c.prompt });
    const ids = (mode) => out.tokens.filter((t) => t.mode === mode).map((t) => t.token);
    assert.deepEqual(ids('baseline'), c.greedy_ids.slice(0, 6));
    assert.deepEqual(ids('rescaled'), c.faithful_rescaled_greedy_ids.slice(0, 6));
    assert.deepEqual(out.tokens.slice(0, 2).map((t) => t.mode), ['baseline', 'rescaled']);
    assert.equal(out.tokens[0].layers, 4);
    assert.equal(out.tokens.filter((t) => t.mode === 'baseline').map((t) => t.text).join(''), ' and I am a man.');
    assert.deepEqual(out.setup, { modes: ['baseline', 'rescaled'], promptIds: c.prompt_ids });
    assert.equal(out.final.stopped, false);
    assert.equal(out.final.status.baseline.stopReason, 'MaxTokens');
    assert.deepEqual(out.only, ['baseline', 'baseline', 'baseline']);
    assert.deepEqual(out.topK1, c.greedy_ids.slice(0, 6));
    assert.equal(out.stopped.stopped, true);
    assert.ok(out.n < 200, `${out.n} tokens after abort`);
    assert.equal(out.score.baseline.tokens, c.prompt_ids.length - 1);
    assert.ok(out.score.baseline.perplexity * 10 < out.score.rescaled.perplexity, JSON.stringify(out.score));
  }));

  test('strict mode refuses the rescaled mode; errors reject with the Rust kind and message', TIMEOUT, () => withPage('api.html', async (page) => {
    const out = await inPage(page, async (api, url) => {
      const err = (p) => p.then(() => null, (e) => [e.kind, e.message]);
      const lens = await api.open(url, { strict: true, rescale: true });
      const gen = lens.generate({ prompt: 'To be', maxTokens: 2, temperature: 0 });
      const modes = [];
      for await (const t of gen) modes.push(t.mode);
      const setup = await gen.info;
      const bad = new Uint8Array([71, 71, 85, 88, 0, 0, 0, 0]);
      const ctl = new AbortController();
      ctl.abort();
      return {
        modes,
        refused: setup.refused,
        records: await lens.records(),
        badMagic: await err(api.open(bad.buffer, { name: 'bad.gguf' })),
        missing: await err(api.open('./nope.gguf')),
        aborted: await err(api.open(url, { signal: ctl.signal })),
        notASource: await err(api.open(42)),
        empty: await err(api.open(new Blob([]))),
      };
    }, MODEL);
    assert.deepEqual(out.modes, ['baseline', 'baseline']);
    assert.match(out.refused.rescaled, /^gamma rescale refused: strict mode/);
    assert.deepEqual(out.records, []);
    assert.deepEqual(out.badMagic, ['bad_magic', 'bad magic at offset 0: expected "GGUF", found 47 47 55 58']);
    assert.equal(out.missing[0], 'http');
    assert.match(out.missing[1], /nope\.gguf: HTTP 404$/);
    assert.equal(out.aborted[0], 'aborted');
    assert.equal(out.notASource[0], 'bad_argument');
    assert.equal(out.empty[0], 'truncated');
  }));

  test('generations of handles on one file take turns: one waits (and can be stopped while it waits), a handle\'s new one ends its own last one', TIMEOUT, () => withPage('api.html', async (page) => {
    const c = GOLDEN.cases[1];
    const out = await inPage(page, async (api, { url, prompt }) => {
      const [a, b] = await Promise.all([api.open(url), api.open(url)]);
      const run = async (lens, extra = {}) => {
        const waits = [];
        const gen = lens.generate({ prompt, maxTokens: 16, temperature: 0, modes: ['baseline'], onWaiting: (n) => waits.push(n), ...extra });
        const ids = [];
        for await (const t of gen) ids.push(t.token);
        return { ids, waits, stopped: (await gen.status).stopped };
      };
      // b waits for a, then runs in full.
      const both = await Promise.all([run(a), run(b)]);
      // b waits behind a; stopped while it waits (its onWaiting, replacing the recorder, aborts
      // it), it ends at once, without a token, and a runs on.
      const first = run(a);
      const stopper = new AbortController();
      const waiting = run(b, { signal: stopper.signal, onWaiting: () => stopper.abort() });
      const [full, stoppedWaiting] = await Promise.all([first, waiting]);
      // A handle's second generation ends its first (no waiting).
      const one = run(a);
      const two = run(a);
      const [replaced, replacing] = await Promise.all([one, two]);
      return { both, full, stoppedWaiting, replaced, replacing };
    }, { url: MODEL, prompt: c.prompt });
    const want = c.greedy_ids.slice(0, 16);
    assert.deepEqual(out.both, [{ ids: want, waits: [], stopped: false }, { ids: want, waits: [1], stopped: false }]);
    assert.deepEqual(out.full, { ids: want, waits: [], stopped: false });
    assert.deepEqual(out.stoppedWaiting, { ids: [], waits: [], stopped: true });
    assert.equal(out.replaced.stopped, true);
    assert.ok(out.replaced.ids.length < 16, `${out.replaced.ids.length} tokens`);
    assert.deepEqual(out.replacing, { ids: want, waits: [], stopped: false });
  }));

  test('handles share one worker and one copy of a file they both name by URL', TIMEOUT, () => withPage('api.html', async (page) => {
    const before = server().count(MODEL);
    const out = await inPage(page, async (api, { url, twin }) => {
      const [a, b] = await Promise.all([api.open(url), api.open(url)]);
      const c = await api.open(url);
      const t = await api.open(twin);
      await a.close();
      // b and c still work after a is closed.
      const ok = (await b.norms()).n_norms;
      const tokens = [];
      for await (const x of c.generate({ prompt: 'To be', maxTokens: 2, temperature: 0, modes: ['baseline'] })) tokens.push(x.token);
      const prescaled = (await t.norms()).n_prescaled;
      const blob = await (await api.open(new Blob([await (await fetch(url)).arrayBuffer()]))).norms();
      return { shared: [a.shared, b.shared, c.shared], ok, tokens: tokens.length, prescaled, fromBlob: blob.n_norms };
    }, { url: MODEL, twin: TWIN });
    // One download for the three handles (and one more by the page's own fetch for the Blob).
    assert.equal(server().count(MODEL) - before, 2);
    assert.deepEqual(out.shared.filter(Boolean).length, 2);
    assert.equal(out.ok, 17);
    assert.equal(out.tokens, 2);
    assert.equal(out.prescaled, 16);
    assert.equal(out.fromBlob, 17);
  }));
});
