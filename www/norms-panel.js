// The norms panel: statistics of every RMSNorm gamma (table and chart), the "looks pre-scaled"
// verdict, the experimental sqrt(n) rescale with its records, and the corrected export.
// Every string from the file goes in as text (render.js's `el`), never as markup.
import { logLineChart } from './chart.js';
import { el, formatBytes } from './render.js';

const KIND_COLORS = {
  attn_norm: '#0a66c2',
  attn_sub_norm: '#7b3fc4',
  ffn_norm: '#d9480f',
  ffn_sub_norm: '#2b8a3e',
  output_norm: '#1d1d1f',
};
const color = (kind) => KIND_COLORS[kind] || '#868e96';
const f6 = (v) => v.toFixed(6);

/** The RMS axis always spans 1/sqrt(n) and 1, so a pre-scaled file stands out at a glance. */
function normRange(stats) {
  const ys = stats.flatMap((s) => [s.rms, s.inv_sqrt_n]).filter((v) => v > 0 && Number.isFinite(v));
  return [Math.min(1, ...ys), Math.max(1, ...ys)];
}

/** `?rescale=1` / `?strict=1` (exactly "1", as the native variables). */
export function optionsFromUrl(search = location.search) {
  const p = new URLSearchParams(search);
  return { rescale: p.get('rescale') === '1', strict: p.get('strict') === '1' };
}

export class NormsPanel {
  /** `lens()` is the JS API's handle of the file on screen. */
  constructor(lens, options) {
    this.lens = lens;
    this.$rescale = el('input', { type: 'checkbox', 'data-testid': 'rescale' });
    this.$strict = el('input', { type: 'checkbox', 'data-testid': 'strict' });
    this.$rescale.checked = options.rescale;
    this.$strict.checked = options.strict;
    this.$verdict = el('p', { class: 'verdict', 'data-testid': 'norms-verdict' });
    this.$rows = el('tbody');
    this.$chart = el('div', { class: 'chart-box', 'data-testid': 'norms-chart' });
    this.$table = el('table', { class: 'norm-stats', 'data-testid': 'norm-table', 'aria-label': 'norm gamma statistics', tabindex: '-1' }, [
      el('thead', {}, el('tr', {}, ['Layer', 'Kind', 'Type', 'n', 'mean', 'std', 'RMS', 'min', 'max', 'RMS·√n', '1/√n', 'Verdict'].map((h) => el('th', {}, h)))),
      this.$rows,
    ]);
    // The chart's text alternative is the table: say so under the chart, with a link to it.
    const toTable = el('a', { href: '#', 'data-testid': 'norms-chart-table-link' }, 'the table below');
    toTable.addEventListener('click', (e) => {
      e.preventDefault();
      this.$table.scrollIntoView({ block: 'start' });
      this.$table.focus();
    });
    this.$chartNote = el('p', { class: 'hint', 'data-testid': 'norms-chart-note', hidden: '' }, [
      'The chart\'s numbers are in ', toTable, ' (RMS column, one row per norm).',
    ]);
    this.$outcome = el('p', { class: 'outcome', 'data-testid': 'rescale-outcome' });
    this.$records = el('tbody');
    this.$recordsTable = el('table', { class: 'records', 'data-testid': 'records', hidden: '' }, [
      el('thead', {}, el('tr', {}, ['Tensor', 'n', 'factor √n', 'RMS before', 'RMS after'].map((h) => el('th', {}, h)))),
      this.$records,
    ]);
    this.$export = el('button', { type: 'button', 'data-testid': 'export' }, 'Export GGUF');
    this.$exportNote = el('span', { class: 'export-note', 'data-testid': 'export-note' });
    this.$error = el('p', { class: 'norms-error', 'data-testid': 'norms-error', hidden: '' });
    this.root = el('section', { class: 'norms', 'data-testid': 'norms' }, [
      el('h3', {}, 'Norm gammas'),
      el('p', { class: 'hint' }, [
        'Every RMSNorm gamma per layer. A trained gamma usually has RMS near 1; one whose RMS is within 15% of ',
        '1/√n looks divided by √n (the pattern of the official 2B-4T attn_norm).',
      ]),
      this.$verdict,
      this.$error,
      this.$chart,
      this.$chartNote,
      this.$table,
      el('h4', {}, 'Experimental: rescale gamma by √n on load'),
      el('p', { class: 'hint' }, 'A diagnostic, not a fix: off by default (the gammas as stored, as bitnet.cpp uses them). Strict mode forbids load-time changes and refuses it. Page parameters: ?rescale=1, ?strict=1.'),
      el('div', { class: 'controls' }, [
        el('label', {}, [this.$rescale, ' rescale gammas by √n']),
        el('label', {}, [this.$strict, ' strict mode']),
        this.$export,
        this.$exportNote,
      ]),
      this.$outcome,
      this.$recordsTable,
    ]);
    const changed = () => this.refresh();
    this.$rescale.addEventListener('change', changed);
    this.$strict.addEventListener('change', changed);
    this.$export.addEventListener('click', () => this.exportFile());
  }

  get options() {
    return { rescale: this.$rescale.checked, strict: this.$strict.checked };
  }

  /** Sets the two checkboxes (the element's rescale and strict attributes). */
  setOptions({ rescale, strict }) {
    this.$rescale.checked = rescale;
    this.$strict.checked = strict;
  }

  /** Shows the panel for a newly loaded file `name`. */
  async show(name) {
    this.name = name;
    await this.refresh();
  }

  async refresh() {
    this.$error.hidden = true;
    try {
      const lens = this.lens();
      const [report, corrections] = await Promise.all([lens.norms(), lens.corrections(this.options)]);
      this._renderReport(report);
      this._renderCorrections(corrections);
      this.root.dataset.state = 'ready';
    } catch (e) {
      this.$error.textContent = `Norm statistics: ${e.message} (${e.kind})`;
      this.$error.hidden = false;
      this.root.dataset.state = 'error';
    }
  }

  _renderReport(report) {
    const all = [...report.layers.flatMap((l) => l.norms), ...report.global];
    const problems = report.problems.length ? ` Not readable: ${report.problems.join('; ')}.` : '';
    if (all.length === 0) {
      this.$verdict.textContent = `No norm gammas in this file.${problems}`;
    } else if (report.n_prescaled > 0) {
      this.$verdict.textContent = `${report.n_prescaled} of ${report.n_norms} norm gammas look pre-scaled by 1/sqrt(n): their RMS is close to 1/√n instead of about 1. Compare the baseline and rescaled generations below.${problems}`;
    } else {
      this.$verdict.textContent = `None of the ${report.n_norms} norm gammas looks pre-scaled by 1/sqrt(n): the stored gammas (baseline) are the ones to use.${problems}`;
    }
    this.$verdict.classList.toggle('warn', report.n_prescaled > 0);
    if (report.n_quantized > 0) this.$verdict.textContent += ` ${report.n_quantized} are stored quantized: regenerate the GGUF with F32 norms.`;

    this.$rows.replaceChildren(...all.map((s) => {
      const tr = el('tr', {}, [
        el('td', { class: 'num' }, s.layer === null || s.layer === undefined ? '-' : String(s.layer)),
        el('td', {}, s.kind),
        el('td', {}, s.storage),
        el('td', { class: 'num' }, String(s.n)),
        el('td', { class: 'num' }, f6(s.mean)),
        el('td', { class: 'num' }, f6(s.std)),
        el('td', { class: 'num' }, f6(s.rms)),
        el('td', { class: 'num' }, f6(s.min)),
        el('td', { class: 'num' }, f6(s.max)),
        el('td', { class: 'num' }, s.rms_sqrt_n.toFixed(4)),
        el('td', { class: 'num' }, f6(s.inv_sqrt_n)),
        el('td', { class: s.prescaled ? 'warn' : '' }, [s.verdict, ...s.notes.map((n) => `; ${n}`)]),
      ]);
      tr.dataset.name = s.name;
      tr.dataset.testid = 'norm-row';
      return tr;
    }));

    // Chart: RMS per layer for each kind, with 1/sqrt(n) for each distinct n as dashed lines.
    const layers = report.layers.map((l) => l.layer);
    const xLabels = [...layers.map(String), ...(report.global.length ? ['out'] : [])];
    const xOf = (s) => (s.layer === null || s.layer === undefined ? layers.length : layers.indexOf(s.layer));
    const kinds = [...new Set(all.map((s) => s.kind))];
    const series = kinds.map((kind) => ({
      label: kind,
      color: color(kind),
      points: all.filter((s) => s.kind === kind).map((s) => [xOf(s), s.rms]),
    }));
    for (const n of [...new Set(all.map((s) => s.n))]) {
      series.push({
        label: `1/√${n}`,
        color: '#868e96',
        dash: '4 3',
        points: xLabels.map((_, i) => [i, 1 / Math.sqrt(n)]),
      });
    }
    this.$chart.replaceChildren(all.length
      ? logLineChart({
        series,
        xLabels,
        yRange: normRange(all),
        yLabel: 'RMS (log)',
        title: 'gamma RMS per layer',
        description: 'The same numbers are in the norm statistics table after the chart (RMS column, one row per norm); the dashed lines are 1/√n for each n.',
        width: 640,
        height: 260,
      })
      : '');
    this.$chartNote.hidden = all.length === 0;
  }

  _renderCorrections(c) {
    const o = c.outcome;
    if (o.status === 'refused_by_strict') this.$outcome.textContent = o.reason;
    else if (o.status === 'applied') this.$outcome.textContent = `EXPERIMENTAL: gamma rescale applied to ${c.records.length} norms (records below); the export writes them as F32 and records the rule in its metadata.`;
    else this.$outcome.textContent = 'gamma rescale: off; the gammas are used as stored.';
    this.$outcome.dataset.status = o.status;
    this.$outcome.classList.toggle('warn', o.status !== 'off');
    this.$records.replaceChildren(...c.records.map((r) => {
      const tr = el('tr', {}, [
        el('td', { class: 'name' }, r.name),
        el('td', { class: 'num' }, String(r.n)),
        el('td', { class: 'num factor' }, `${r.factor.toFixed(4)}×`),
        el('td', { class: 'num' }, f6(r.rms_before)),
        el('td', { class: 'num' }, f6(r.rms_after)),
      ]);
      tr.dataset.name = r.name;
      tr.dataset.factor = String(r.factor);
      tr.dataset.testid = 'record-row';
      tr.title = r.reason;
      return tr;
    }));
    this.$recordsTable.hidden = c.records.length === 0;
  }

  /** Builds the export in the worker (a Blob of wasm-memory slices) and downloads it. */
  async exportFile() {
    this.$export.disabled = true;
    this.$exportNote.textContent = 'building…';
    try {
      const lens = this.lens();
      const [blob, summary] = await Promise.all([lens.export(this.options), lens.exportSummary(this.options)]);
      const base = (this.name || 'model.gguf').replace(/\.gguf$/i, '');
      const name = `${base}${summary.rescaled > 0 ? '-rescaled' : '-export'}.gguf`;
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.$exportNote.textContent = `${name}: ${formatBytes(blob.size)} (${blob.size} bytes), ${summary.rescaled} norms rescaled`;
    } catch (e) {
      this.$exportNote.textContent = `export failed: ${e.message} (${e.kind})`;
    } finally {
      this.$export.disabled = false;
    }
  }
}
