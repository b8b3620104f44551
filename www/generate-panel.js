// The A/B generation panel: one prompt and seed, generated token by token with the gammas as
// stored (baseline) and rescaled by sqrt(n), side by side, each with tokens/s and a per-layer
// activation RMS chart from the latest token's probe, and the first token where the two part
// marked in both. The worker owns the model: this panel runs the JS API's `lens.generate` and
// renders the tokens it streams back.
import { logLineChart } from './chart.js';
import { GENERATE_DEFAULTS } from './config.js';
import { el } from './render.js';
import { MAX_THREADS, defaultThreads, whyOneThread } from './wasm-build.js';

/** How often queued tokens are drawn (see `_showToken`): 5 redraws a second still reads as streaming. */
const DRAW_EVERY_MS = 200;
/** How often the activation charts are redrawn while a run goes (they cost more than the text). */
const CHARTS_EVERY_MS = 1000;

const MODES = {
  baseline: 'Baseline: gammas as stored',
  rescaled: 'Rescaled: gammas × √n (experimental)',
};

const PROBE_SERIES = [
  ['resid_attn', 'residual after attention', '#0a66c2'],
  ['resid_ffn', 'residual after FFN', '#d9480f'],
  ['attn_norm', 'attn_norm output', '#2b8a3e'],
];

/** A perplexity for reading: fixed below a million, exponent above; ∞ and NaN as such. */
function num(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return '∞';
  return x < 1e6 ? x.toFixed(x < 100 ? 2 : 1) : x.toExponential(2);
}

/** A run's threads as the status says them: "2 threads", or why there is one. */
function threadsText(build) {
  if (build.threads > 1 || !build.why) return `${build.threads} thread${build.threads === 1 ? '' : 's'}`;
  return build.why;
}

export class GeneratePanel {
  /** `lens()` is the JS API's handle of the file on screen; `strict()` the strict checkbox. */
  constructor({ lens, strict }) {
    this.pending = []; // tokens not drawn yet
    this.drawTimer = null;
    this.chartsAt = null;
    this.lens = lens;
    this.strict = strict;
    this.$prompt = el('textarea', { rows: '2', 'data-testid': 'prompt' });
    this.$prompt.value = GENERATE_DEFAULTS.prompt;
    this.$chat = el('input', { type: 'checkbox', 'data-testid': 'chat' });
    this.$seed = el('input', { type: 'number', min: '0', step: '1', value: String(GENERATE_DEFAULTS.seed), 'data-testid': 'seed' });
    this.$max = el('input', { type: 'number', min: '1', max: '4096', step: '1', value: String(GENERATE_DEFAULTS.maxTokens), 'data-testid': 'max-tokens' });
    this.$temp = el('input', { type: 'number', min: '0', max: '5', step: '0.1', value: String(GENERATE_DEFAULTS.temperature), 'data-testid': 'temperature' });
    // The sampler (used when the temperature is above 0): as the CLI's --top-k, --top-p, --repeat-penalty.
    this.$topK = el('input', { type: 'number', min: '0', step: '1', value: String(GENERATE_DEFAULTS.topK), 'data-testid': 'top-k', title: '0 = all tokens' });
    this.$topP = el('input', { type: 'number', min: '0', max: '1', step: '0.05', value: String(GENERATE_DEFAULTS.topP), 'data-testid': 'top-p', title: '1 = off' });
    this.$penalty = el('input', { type: 'number', min: '0', step: '0.05', value: String(GENERATE_DEFAULTS.repeatPenalty), 'data-testid': 'repeat-penalty', title: '1 = off; over the last 64 tokens' });
    // Which x86 build of the reference engine to mirror bit for bit: ggml's AVX-512 build sums
    // floats in 16 lanes and has its own vector expf, so its tokens can part from an AVX2 build's.
    this.$score = el('input', { type: 'checkbox', checked: '', 'data-testid': 'score' });
    this.$isa = el('select', { 'data-testid': 'isa', title: 'the reference build whose float roundings are mirrored' }, [
      el('option', { value: 'avx2' }, 'AVX2 build'),
      el('option', { value: 'avx512' }, 'AVX-512 build'),
    ]);
    // Threads for the products' rows (the threaded build; the worker keeps it within its pool).
    this.$threads = el('input', { type: 'number', min: '1', max: String(MAX_THREADS), step: '1', value: String(defaultThreads()), 'data-testid': 'threads', title: 'same tokens and logits for any count' });
    this.$threadsNote = el('span', { class: 'hint', 'data-testid': 'threads-note' }, whyOneThread() ?? '');
    this.$run = el('button', { type: 'button', 'data-testid': 'run' }, 'Run');
    this.$stop = el('button', { type: 'button', 'data-testid': 'stop', disabled: '' }, 'Stop');
    this.$status = el('p', { class: 'run-status', 'data-testid': 'run-status' });
    this.columns = {};
    const cols = Object.keys(MODES).map((mode) => {
      const c = {
        text: el('pre', { class: 'gen-text', 'data-testid': `text-${mode}` }),
        speed: el('span', { class: 'speed', 'data-testid': `speed-${mode}` }),
        note: el('p', { class: 'mode-note', 'data-testid': `note-${mode}` }),
        score: el('p', { class: 'mode-score', 'data-testid': `score-${mode}` }),
        diverge: el('p', { class: 'diverge-note', 'data-testid': `diverge-${mode}` }),
        chart: el('div', { class: 'chart-box', 'data-testid': `probe-${mode}` }),
      };
      c.root = el('div', { class: 'mode', 'data-testid': `mode-${mode}` }, [
        el('h4', {}, [MODES[mode], ' ', c.speed]),
        c.note,
        c.score,
        c.diverge,
        c.text,
        c.chart,
      ]);
      this.columns[mode] = c;
      return c.root;
    });
    this.root = el('section', { class: 'generate', 'data-testid': 'generate' }, [
      el('h3', {}, 'Generate: baseline and rescaled side by side'),
      el('p', { class: 'hint' }, 'The same prompt and seed run with the gammas as stored and with every gamma multiplied by √n, one token of each in turn. The charts show the RMS of the residual stream per layer at the latest token (log scale): with the wrong gammas it is far too small or too large.'),
      el('div', { class: 'controls' }, [
        el('label', { class: 'prompt' }, ['Prompt ', this.$prompt]),
      ]),
      el('div', { class: 'controls' }, [
        el('label', {}, [this.$chat, ' chat template']),
        el('label', {}, ['seed ', this.$seed]),
        el('label', {}, ['max tokens ', this.$max]),
        el('label', {}, ['temperature ', this.$temp, ' (0 = greedy)']),
        el('label', {}, ['top-k ', this.$topK]),
        el('label', {}, ['top-p ', this.$topP]),
        el('label', {}, ['repetition penalty ', this.$penalty]),
        el('label', { title: 'the perplexity of the prompt under each mode: one head product per prompt token' }, [this.$score, ' score the prompt']),
        el('label', {}, ['numerics of ', this.$isa]),
        el('label', {}, ['threads ', this.$threads, ' ', this.$threadsNote]),
        this.$run,
        this.$stop,
      ]),
      this.$status,
      this.$verdict = el('p', { class: 'verdict', 'data-testid': 'verdict' }),
      el('div', { class: 'modes' }, cols),
    ]);
    this.$run.addEventListener('click', () => this.run());
    this.$stop.addEventListener('click', () => this.current?.stop());
  }

  setPrompt(text) {
    this.$prompt.value = text;
  }

  setMaxTokens(n) {
    this.$max.value = String(n);
  }

  /** A new file: forget the last run. */
  reset() {
    this.current?.stop();
    this.current = null; // tokens of an earlier run are ignored from now on
    clearTimeout(this.drawTimer);
    this.drawTimer = null;
    this.pending = [];
    this.chartsAt = null; // when the charts were last drawn in this run
    this.$run.disabled = false;
    this.$stop.disabled = true;
    for (const c of Object.values(this.columns)) {
      c.text.textContent = '';
      c.speed.textContent = '';
      c.note.textContent = '';
      c.score.textContent = '';
      c.diverge.textContent = '';
      c.chart.replaceChildren();
      delete c.root.dataset.ids;
      delete c.root.dataset.divergeAt;
    }
    this.$status.textContent = '';
    this.$verdict.textContent = '';
    this.root.dataset.state = 'idle';
  }

  /** Runs the prompt in both modes (the baseline only in strict mode) and shows the tokens. */
  async run() {
    this.reset();
    const lens = this.lens();
    if (!lens) return;
    const num = (input, min, whole) => {
      const v = Math.max(min, Number(input.value) || 0);
      return whole ? Math.floor(v) : v;
    };
    const gen = lens.generate({
      prompt: this.$prompt.value,
      chat: this.$chat.checked,
      seed: num(this.$seed, 0, true),
      maxTokens: Math.max(1, num(this.$max, 1, true)),
      temperature: num(this.$temp, 0),
      topK: num(this.$topK, 0, true),
      topP: Math.min(1, num(this.$topP, 0)),
      repeatPenalty: num(this.$penalty, 0),
      isa: this.$isa.value,
      score: this.$score.checked,
      threads: Math.max(1, num(this.$threads, 1, true)),
      strict: this.strict(),
      onWaiting: (ahead) => {
        if (this.current !== gen) return;
        this.root.dataset.state = 'waiting';
        this.$status.textContent = `waiting: ${ahead === 1 ? 'another generation' : `${ahead} other generations`} on this file ${ahead === 1 ? 'runs' : 'run'} first…`;
      },
    });
    this.current = gen;
    this.tokens = { baseline: [], rescaled: [] }; // {token, span} per generated token
    this.divergeAt = null;
    this.probes = {};
    this.$run.disabled = true;
    this.$stop.disabled = false;
    this.root.dataset.state = 'running';
    this.$status.textContent = 'loading the model…';
    try {
      const setup = await gen.info;
      if (this.current !== gen) return;
      this.root.dataset.state = 'running';
      if (setup) this._showSetup(setup); // (none: stopped while it waited for its turn)
      for await (const t of gen) {
        if (this.current !== gen) return;
        this._showToken(t);
      }
      if (this.current !== gen) return;
      const status = await gen.status;
      if (this.current !== gen) return;
      this._drawPending(true);
      this._showDone(status);
    } catch (e) {
      if (this.current !== gen) return;
      this._drawPending(true);
      this.$status.textContent = `generation failed: ${e.message} (${e.kind})`;
      this._end('error');
    }
  }

  _showSetup({ info, build, promptIds, scores, refused }) {
    const c = info.config || {};
    const seed = this.$temp.value > 0 ? `, seed ${info.seed}` : ', greedy';
    // What each mode holds besides the shared weights: KV cache, activations, norm vectors.
    const perMode = `${(info.perModeBytes / 1048576).toFixed(1)} MiB per mode`;
    this.$status.textContent = `prompt: ${promptIds.length} tokens; context ${info.nCtx} (${perMode})${seed}${c.n_layers ? `; ${c.n_layers} layers` : ''}; ${info.isa === 'avx512' ? 'AVX-512' : 'AVX2'} numerics${build ? `; wasm build: ${build.name}; ${threadsText(build)}` : ''}`;
    if (build) this.$threadsNote.textContent = build.why ?? '';
    for (const [mode, why] of Object.entries(refused || {})) this.columns[mode].note.textContent = why;
    this._showScores(scores || {});
  }

  /**
   * Tokens are drawn in batches: a DOM update and two chart redraws per token took the page's
   * main thread ~37 ms a token, which competes with the worker's compute threads for the cores
   * (measured on 2 cores: 2 vs 1 thread decode 1.30x drawing every token, 1.81x batched). So a
   * token is queued and the queue is drawn at most every DRAW_EVERY_MS.
   */
  _showToken(t) {
    this.pending.push(t);
    // A mode's first token is drawn at once: the time to it is what a person waits for.
    const wait = this.tokens[t.mode].length ? DRAW_EVERY_MS : 0;
    this.drawTimer ??= setTimeout(() => this._drawPending(), wait);
  }

  /** Draws the queued tokens; `last`: the run has ended, so the charts show its last token. */
  _drawPending(last = false) {
    clearTimeout(this.drawTimer);
    this.drawTimer = null;
    const batch = this.pending;
    this.pending = [];
    const texts = { baseline: [], rescaled: [] };
    for (const t of batch) {
      const span = el('span', { class: 'tok' }, t.text);
      texts[t.mode].push(span);
      this.tokens[t.mode].push({ token: t.token, span });
      this.probes[t.mode] = t.probe;
    }
    for (const [mode, spans] of Object.entries(texts)) {
      if (!spans.length) continue;
      const col = this.columns[mode];
      const mine = this.tokens[mode];
      col.text.append(...spans);
      col.root.dataset.ids = mine.map((x) => x.token).join(',');
      const newest = batch.findLast((t) => t.mode === mode);
      col.speed.textContent = `${mine.length} tokens, ${newest.tokensPerS.toFixed(1)} tok/s`;
    }
    const now = performance.now();
    if (last || !(now - this.chartsAt < CHARTS_EVERY_MS)) {
      this.chartsAt = now;
      this._drawProbes();
    }
    for (const t of batch) this._markDivergence(t.index);
  }

  /** The first index where both modes have a token and the two differ, marked in both columns. */
  _markDivergence(i) {
    const { baseline: b, rescaled: r } = this.tokens;
    if (this.divergeAt !== null || i >= b.length || i >= r.length || b[i].token === r[i].token) return;
    this.divergeAt = i;
    for (const [mode, list] of Object.entries(this.tokens)) {
      const { span } = list[i];
      span.classList.add('diverge');
      span.dataset.testid = 'diverge-token';
      span.title = `the modes part here: token ${i}`;
      this.columns[mode].diverge.textContent = `The modes part at token ${i} (counting from 0), marked in the text.`;
      this.columns[mode].root.dataset.divergeAt = String(i);
    }
  }

  _showDone({ status, stopped }) {
    for (const [mode, s] of Object.entries(status)) {
      this.columns[mode].speed.textContent = `${this.tokens[mode].length} tokens, ${s.decodeTokensPerS.toFixed(1)} tok/s (prefill ${s.prefillTokensPerS.toFixed(0)} tok/s)`;
    }
    const { baseline: b, rescaled: r } = this.tokens;
    if (this.divergeAt === null && b.length && r.length) {
      const same = Math.min(b.length, r.length);
      for (const mode of ['baseline', 'rescaled']) this.columns[mode].diverge.textContent = `The modes agree on all ${same} tokens.`;
    }
    this.$status.textContent += stopped ? ' — stopped' : ' — done';
    this._end('done');
  }

  _end(state) {
    this.$run.disabled = false;
    this.$stop.disabled = true;
    this.root.dataset.state = state;
  }

  /** Each mode's prompt perplexity, and which mode predicts the prompt better. */
  _showScores(scores) {
    for (const [mode, sc] of Object.entries(scores)) {
      if (!sc) continue;
      const col = this.columns[mode];
      col.score.textContent = `prompt perplexity ${num(sc.perplexity)} (mean NLL ${sc.meanNll.toFixed(3)} nats over ${sc.tokens} tokens)`;
      col.root.dataset.perplexity = String(sc.perplexity);
    }
    const { baseline: b, rescaled: r } = scores;
    if (!b || !r) return;
    const better = b.perplexity <= r.perplexity ? 'the gammas as stored' : 'the rescaled gammas (×√n)';
    const ratio = Math.max(b.perplexity, r.perplexity) / Math.min(b.perplexity, r.perplexity);
    this.$verdict.textContent = Number.isFinite(ratio)
      ? `On this prompt ${better} predict the text better: perplexity ${num(b.perplexity)} (baseline) vs ${num(r.perplexity)} (rescaled), ${num(ratio)}× apart. One prompt is evidence, not proof: try a few.`
      : `Prompt perplexity: ${num(b.perplexity)} (baseline) vs ${num(r.perplexity)} (rescaled).`;
  }

  /** Both charts on one y range, so the two modes compare at a glance. */
  _drawProbes() {
    const all = Object.values(this.probes).flatMap((p) => p.layers.flatMap((l) => PROBE_SERIES.map(([k]) => l[k])));
    const pos = all.filter((v) => v > 0 && Number.isFinite(v));
    const yRange = pos.length ? [Math.min(...pos), Math.max(...pos)] : undefined;
    for (const [mode, probe] of Object.entries(this.probes)) {
      const xLabels = probe.layers.map((_, i) => String(i));
      const series = PROBE_SERIES.map(([key, label, color]) => ({
        label,
        color,
        points: probe.layers.map((l, i) => [i, l[key]]),
      }));
      this.columns[mode].chart.replaceChildren(logLineChart({
        series, xLabels, yRange, yLabel: 'RMS (log)', title: 'activation RMS per layer, latest token', width: 440,
      }));
    }
  }
}
