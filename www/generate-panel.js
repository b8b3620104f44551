// The A/B generation panel: one prompt and seed, generated token by token with the gammas as
// stored (baseline) and rescaled by sqrt(n), side by side, each with tokens/s and a per-layer
// activation RMS chart from the latest token's probe. The worker owns the model: this panel
// posts a 'generate' request and renders the tokens it streams back.
import { logLineChart } from './chart.js';
import { GENERATE_DEFAULTS } from './config.js';
import { el } from './render.js';

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

export class GeneratePanel {
  /** `start(payload, onMessage)` posts a 'generate' request; `stop()` ends it. */
  constructor({ start, stop, strict }) {
    this.startRequest = start;
    this.stopRequest = stop;
    this.strict = strict; // () => boolean, the norms panel's strict checkbox
    this.$prompt = el('textarea', { rows: '2', 'data-testid': 'prompt' });
    this.$prompt.value = GENERATE_DEFAULTS.prompt;
    this.$chat = el('input', { type: 'checkbox', 'data-testid': 'chat' });
    this.$seed = el('input', { type: 'number', min: '0', step: '1', value: String(GENERATE_DEFAULTS.seed), 'data-testid': 'seed' });
    this.$max = el('input', { type: 'number', min: '1', max: '4096', step: '1', value: String(GENERATE_DEFAULTS.maxTokens), 'data-testid': 'max-tokens' });
    this.$temp = el('input', { type: 'number', min: '0', max: '5', step: '0.1', value: String(GENERATE_DEFAULTS.temperature), 'data-testid': 'temperature' });
    // Which x86 build of the reference engine to mirror bit for bit: ggml's AVX-512 build sums
    // floats in 16 lanes and has its own vector expf, so its tokens can part from an AVX2 build's.
    this.$score = el('input', { type: 'checkbox', checked: '', 'data-testid': 'score' });
    this.$isa = el('select', { 'data-testid': 'isa', title: 'the reference build whose float roundings are mirrored' }, [
      el('option', { value: 'avx2' }, 'AVX2 build'),
      el('option', { value: 'avx512' }, 'AVX-512 build'),
    ]);
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
        chart: el('div', { class: 'chart-box', 'data-testid': `probe-${mode}` }),
      };
      c.root = el('div', { class: 'mode', 'data-testid': `mode-${mode}` }, [
        el('h4', {}, [MODES[mode], ' ', c.speed]),
        c.note,
        c.score,
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
        el('label', { title: 'the perplexity of the prompt under each mode: one head product per prompt token' }, [this.$score, ' score the prompt']),
        el('label', {}, ['numerics of ', this.$isa]),
        this.$run,
        this.$stop,
      ]),
      this.$status,
      this.$verdict = el('p', { class: 'verdict', 'data-testid': 'verdict' }),
      el('div', { class: 'modes' }, cols),
    ]);
    this.$run.addEventListener('click', () => this.run());
    this.$stop.addEventListener('click', () => this.stopRequest());
  }

  /** A new file: forget the last run. */
  reset() {
    this.current = null; // messages of an earlier run are ignored from now on
    this.$run.disabled = false;
    this.$stop.disabled = true;
    for (const c of Object.values(this.columns)) {
      c.text.textContent = '';
      c.speed.textContent = '';
      c.note.textContent = '';
      c.score.textContent = '';
      c.chart.replaceChildren();
      delete c.root.dataset.ids;
    }
    this.$status.textContent = '';
    this.$verdict.textContent = '';
    this.root.dataset.state = 'idle';
  }

  run() {
    this.reset();
    const strict = this.strict();
    const payload = {
      prompt: this.$prompt.value,
      chat: this.$chat.checked,
      seed: Math.max(0, Math.floor(Number(this.$seed.value) || 0)),
      maxTokens: Math.max(1, Math.floor(Number(this.$max.value) || 1)),
      temperature: Math.max(0, Number(this.$temp.value) || 0),
      isa: this.$isa.value,
      score: this.$score.checked,
      strict,
    };
    this.ids = { baseline: [], rescaled: [] };
    this.probes = {};
    if (strict) {
      this.columns.rescaled.note.textContent = 'gamma rescale refused: strict mode forbids load-time changes to the weights; only the baseline runs.';
    }
    this.$run.disabled = true;
    this.$stop.disabled = false;
    this.root.dataset.state = 'running';
    this.$status.textContent = 'loading the model…';
    const token = {};
    this.current = token;
    this.startRequest(payload, (msg) => {
      if (this.current === token) this._onMessage(msg);
    });
  }

  _onMessage(msg) {
    switch (msg.type) {
      case 'runInfo': {
        const c = msg.info.config || {};
        const seed = this.$temp.value > 0 ? `, seed ${msg.info.seed}` : ', greedy';
        // What each mode holds besides the shared weights: KV cache, activations, norm vectors.
        const perMode = `${(msg.info.perModeBytes / 1048576).toFixed(1)} MiB per mode`;
        this.$status.textContent = `prompt: ${msg.promptIds.length} tokens; context ${msg.info.nCtx} (${perMode})${seed}${c.n_layers ? `; ${c.n_layers} layers` : ''}; ${msg.info.isa === 'avx512' ? 'AVX-512' : 'AVX2'} numerics; wasm build: ${msg.build.name}`;
        this._showScores(msg.scores || {});
        break;
      }
      case 'token': {
        const col = this.columns[msg.mode];
        col.text.append(msg.step.text);
        this.ids[msg.mode].push(msg.step.token);
        col.root.dataset.ids = this.ids[msg.mode].join(',');
        col.speed.textContent = `${this.ids[msg.mode].length} tokens, ${msg.tokensPerS.toFixed(1)} tok/s`;
        this.probes[msg.mode] = msg.step.probe;
        this._drawProbes();
        break;
      }
      case 'done':
      case 'error':
        if (msg.type === 'error') this.$status.textContent = `generation failed: ${msg.error.message} (${msg.error.kind})`;
        else {
          for (const [mode, s] of Object.entries(msg.status)) {
            this.columns[mode].speed.textContent = `${this.ids[mode].length} tokens, ${s.decodeTokensPerS.toFixed(1)} tok/s (prefill ${s.prefillTokensPerS.toFixed(0)} tok/s)`;
          }
          this.$status.textContent += msg.stopped ? ' — stopped' : ' — done';
        }
        this.$run.disabled = false;
        this.$stop.disabled = true;
        this.root.dataset.state = msg.type === 'error' ? 'error' : 'done';
        break;
    }
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
