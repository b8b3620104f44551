// <bit-lens>: drop or choose a GGUF file and see its metadata, tensor table and layout, its
// norm statistics (with the experimental sqrt(n) rescale and the export), and run it in both
// modes side by side. Built on the JS API (api.js, re-exported here): one path for both.
// Embeddable: `<script type="module" src=".../bit-lens.js"></script><bit-lens src="model.gguf">`.
// Attributes: src, panels ("metadata tensors norms generate", any subset), prompt, max-tokens,
// rescale, strict, compact. Themable with --bitlens-* custom properties and ::part().
// Every string that comes from a file goes into the DOM as text (textContent), never as HTML.
import { cachedModels, clearCache, nameOfUrl, open } from './api.js';
import { BUILT_IN_MODELS, DEFAULT_MODEL_URL } from './config.js';
import { GeneratePanel } from './generate-panel.js';
import { NormsPanel, optionsFromUrl } from './norms-panel.js';
import { el, formatBytes, formatElement, formatShape, formatValue } from './render.js';

export { Generation, Lens, cachedModels, clearCache, open } from './api.js';

/** The panels an element can show (the `panels` attribute names a subset). */
export const PANELS = ['metadata', 'tensors', 'norms', 'generate'];

// Public custom properties (--bitlens-*) feed private ones, with light and dark defaults.
const STYLE = `
:host {
  --_fg: var(--bitlens-fg, #1d1d1f); --_bg: var(--bitlens-bg, transparent);
  --_muted: var(--bitlens-muted, #5f6368); --_border: var(--bitlens-border, #e3e3e6);
  --_accent: var(--bitlens-accent, #0a66c2); --_accent-bg: var(--bitlens-accent-bg, #eef5fc);
  --_panel: var(--bitlens-panel-bg, #f7f7f8); --_warn: var(--bitlens-warn, #9c4a00);
  --_error-fg: var(--bitlens-error-fg, #8a1111); --_error-bg: var(--bitlens-error-bg, #fde8e8);
  --_mark: var(--bitlens-mark, #ffe08a);
  --_font: var(--bitlens-font, system-ui, sans-serif); --_mono: var(--bitlens-mono, ui-monospace, monospace);
  display: block; font: 14px/1.4 var(--_font); color: var(--_fg); background: var(--_bg);
}
@media (prefers-color-scheme: dark) {
  :host {
    --_fg: var(--bitlens-fg, #e8e8ea); --_muted: var(--bitlens-muted, #a0a4ab);
    --_border: var(--bitlens-border, #3a3b3f); --_accent: var(--bitlens-accent, #6cb4ff);
    --_accent-bg: var(--bitlens-accent-bg, #16293d); --_panel: var(--bitlens-panel-bg, #232427);
    --_warn: var(--bitlens-warn, #ffb870); --_error-fg: var(--bitlens-error-fg, #ffb4b4);
    --_error-bg: var(--bitlens-error-bg, #4a1c1c); --_mark: var(--bitlens-mark, #6b5600);
  }
}
.drop { border: 2px dashed var(--_muted); border-radius: 8px; padding: 1.2em; text-align: center; }
.drop.over, .drop:focus-visible { border-color: var(--_accent); background: var(--_accent-bg); outline: none; }
.drop .choose { font-weight: 600; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.cache { margin-top: .5em; color: var(--_muted); font-size: 13px; }
.status { margin: .6em 0; display: flex; gap: .8em; align-items: center; min-height: 1.6em; }
:host([compact][state=loaded]) .status { display: none; }
progress { width: 16em; }
.error, .norms-error { margin: .6em 0; padding: .6em .8em; border-radius: 6px; background: var(--_error-bg);
  color: var(--_error-fg); white-space: pre-wrap; }
table { border-collapse: collapse; margin: .4em 0 1.2em; font-size: 13px; }
th, td { border-bottom: 1px solid var(--_border); padding: .25em .6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.value { max-width: 60em; white-space: pre-wrap; word-break: break-word; }
td.value .all { max-height: 24em; overflow: auto; margin: .3em 0 0; font-size: 12px; }
code, td.name, td.key, textarea { font-family: var(--_mono); }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dt, .hint, .speed, .memory { color: var(--_muted); }
dd { margin: 0; }
[hidden] { display: none !important; }
.builtin { margin-top: .5em; }
.builtin button { margin: 0 .3em; }
.hint { margin: .2em 0 .6em; max-width: 60em; }
.verdict { font-weight: 600; margin: .4em 0; }
.warn, .mode-note { color: var(--_warn); }
.controls { display: flex; flex-wrap: wrap; gap: .6em 1.2em; align-items: center; margin: .5em 0; }
.controls label.prompt { display: flex; gap: .5em; align-items: flex-start; flex: 1; }
textarea { flex: 1; min-width: 20em; font-size: 13px; }
input[type=number] { width: 5.5em; }
.chart-box svg { max-width: 100%; height: auto; }
.chart text, .chart .tick { fill: var(--_muted); }
.chart .tick { font-size: 10px; }
.chart .chart-title { font-size: 12px; fill: var(--_fg); }
.modes { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; }
.mode { border: 1px solid var(--_border); border-radius: 8px; padding: .4em .8em; min-width: 0; }
.mode h4 { margin: .3em 0; }
.speed { display: block; font-weight: normal; font-size: 12px; }
.gen-text { white-space: pre-wrap; word-break: break-word; height: 12em; background: var(--_panel);
  padding: .5em; border-radius: 4px; font-size: 13px; margin: .3em 0; overflow: auto; }
.gen-text .diverge { background: var(--_mark); outline: 1px solid var(--_warn); border-radius: 2px; }
.mode-note, .mode-score, .diverge-note { margin: .2em 0; font-size: 13px; }
section.norms, section.generate { margin: 1em 0 1.5em; }
`;

let sheet = null;
/** One constructed stylesheet for every element (no <style> element: a strict CSP allows it). */
function styleSheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

/** A boolean attribute: present and not "0" or "false". */
function flag(node, name) {
  const v = node.getAttribute(name);
  return v !== null && v !== '0' && v !== 'false';
}

export class BitLens extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'panels', 'compact', 'prompt', 'max-tokens', 'rescale', 'strict'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this._lens = null; // the handle of the file on screen (the last one that loaded completely)
    this._loading = null; // the AbortController of the open in progress
    this._shown = null; // {name, info, metadata, tensors, memory, lens?} currently on screen
    this._good = null; // the view of `_lens` (shown again after an error)
    this._build();
  }

  /** The handle of the file on screen (the JS API's `Lens`), or null. */
  get lens() {
    return this._lens;
  }

  connectedCallback() {
    clearTimeout(this._leaving);
    this._applyAttributes();
    if (this._started) return;
    this._started = true;
    const src = this.getAttribute('src');
    this.openUrl(src === null ? DEFAULT_MODEL_URL : src);
    this._showCache();
  }

  disconnectedCallback() {
    // Moved, not removed, when it is back before the next task: keep the file then.
    clearTimeout(this._leaving);
    this._leaving = setTimeout(() => {
      if (this.isConnected) return;
      this._started = false;
      this._loading?.abort();
      this._loading = null;
      this.generate.reset();
      this._lens?.close();
      this._lens = null;
    });
  }

  attributeChangedCallback(name, old, value) {
    if (old === value) return;
    if (name === 'src') {
      if (this._started && value) this.openUrl(value);
      return;
    }
    this._applyAttributes();
    if ((name === 'rescale' || name === 'strict') && this._lens) this.norms.refresh();
  }

  /** Opens a File, Blob or ArrayBuffer (read in File.slice chunks by the worker). */
  open(file, name = file.name || 'file') {
    return this._load(file, name, file.size ?? file.byteLength);
  }

  /**
   * Opens a URL (streamed from the response body, or the cache). An empty string opens nothing.
   * `options.cache: false` neither reads nor fills the model cache.
   */
  openUrl(url, options = {}) {
    if (!url) return undefined;
    return this._load(url, nameOfUrl(url), null, options);
  }

  _applyAttributes() {
    const wanted = (this.getAttribute('panels') || PANELS.join(' ')).split(/\s+/);
    const show = (name) => wanted.includes(name);
    const compact = flag(this, 'compact');
    this.$drop.hidden = compact;
    this.$header.hidden = compact;
    this.$metadataBlock.hidden = !show('metadata');
    this.$tensorsBlock.hidden = !show('tensors');
    this.norms.root.hidden = !show('norms');
    this.generate.root.hidden = !show('generate');
    const fromUrl = optionsFromUrl();
    const opt = (name) => (this.hasAttribute(name) ? flag(this, name) : fromUrl[name]);
    this.norms.setOptions({ rescale: opt('rescale'), strict: opt('strict') });
    if (this.hasAttribute('prompt')) this.generate.setPrompt(this.getAttribute('prompt'));
    if (this.hasAttribute('max-tokens')) this.generate.setMaxTokens(this.getAttribute('max-tokens'));
  }

  _build() {
    const r = this.shadowRoot;
    r.adoptedStyleSheets = [styleSheet()];
    this.$input = el('input', { type: 'file', accept: '.gguf', class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true' });
    const choose = el('button', { type: 'button', class: 'choose', 'data-testid': 'choose' }, 'choose one');
    choose.addEventListener('click', () => this.$input.click());
    this.$cache = el('span', { class: 'cache-list', 'data-testid': 'cache-list' });
    this.$clearCache = el('button', { type: 'button', 'data-testid': 'clear-cache', hidden: '' }, 'Clear');
    this.$clearCache.addEventListener('click', async () => {
      await clearCache();
      await this._showCache();
    });
    // Focusable itself (Enter or Space opens the file chooser), with its buttons in tab order.
    this.$drop = el('section', {
      class: 'drop', part: 'drop', tabindex: '0', 'data-testid': 'drop',
      'aria-label': 'Open a GGUF file: press Enter to choose one, or drop it here',
    }, [
      'Drop a GGUF file here or ', choose, this.$input,
      el('div', { class: 'builtin' }, [
        'or open a built-in model:',
        ...BUILT_IN_MODELS.map((m, i) => {
          const b = el('button', { type: 'button', 'data-testid': `builtin-${i}` }, m.label);
          b.addEventListener('click', () => this.openUrl(m.url));
          return b;
        }),
      ]),
      el('div', { class: 'cache', 'data-testid': 'cache' }, ['Cached in this browser: ', this.$cache, ' ', this.$clearCache]),
    ]);
    this.$drop.addEventListener('keydown', (e) => {
      if (e.target === this.$drop && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.$input.click();
      }
    });
    this.norms = new NormsPanel(() => this._lens, optionsFromUrl());
    this.generate = new GeneratePanel({ lens: () => this._lens, strict: () => this.norms.options.strict });
    this.norms.root.setAttribute('part', 'norms');
    this.generate.root.setAttribute('part', 'generate');
    this.$panels = el('div', { class: 'panels', hidden: '' }, [this.norms.root, this.generate.root]);
    this.$progress = el('progress', { max: '1', value: '0' });
    this.$progressText = el('span', { class: 'progress-text' });
    this.$status = el('div', { class: 'status', role: 'status', part: 'status' }, [this.$progress, this.$progressText]);
    this.$error = el('div', { class: 'error', role: 'alert', part: 'error', hidden: '' });
    this.$title = el('h2', { class: 'file-name' });
    this.$summary = el('dl', { class: 'summary' });
    this.$memory = el('p', { class: 'memory', 'data-testid': 'memory' });
    this.$notes = el('ul', { class: 'notes' });
    this.$metadata = el('tbody');
    this.$tensors = el('tbody');
    this.$header = el('div', { class: 'header', part: 'header' }, [this.$title, el('h3', {}, 'Layout'), this.$summary, this.$memory, this.$notes]);
    this.$metadataBlock = el('div', { class: 'metadata-block', part: 'metadata' }, [
      el('h3', {}, 'Metadata'),
      el('table', { class: 'metadata' }, [
        el('thead', {}, el('tr', {}, ['Key', 'Type', 'Value'].map((h) => el('th', {}, h)))),
        this.$metadata,
      ]),
    ]);
    this.$tensorsBlock = el('div', { class: 'tensors-block', part: 'tensors' }, [
      el('h3', {}, 'Tensors'),
      el('table', { class: 'tensors' }, [
        el('thead', {}, el('tr', {}, ['Name', 'Type', 'Shape', 'Offset', 'Bytes'].map((h) => el('th', {}, h)))),
        this.$tensors,
      ]),
    ]);
    this.$content = el('div', { class: 'content', hidden: '' }, [this.$header, this.$panels, this.$metadataBlock, this.$tensorsBlock]);
    r.append(this.$drop, this.$status, this.$error, this.$content);

    this.$input.addEventListener('change', () => {
      const f = this.$input.files[0];
      if (f) this.open(f);
      this.$input.value = '';
    });
    const drop = this.$drop;
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const f = e.dataTransfer?.files?.[0];
      if (f) this.open(f);
    });
  }

  /** Opens `source` through the API; the file on screen stays until the new one has loaded. */
  async _load(source, name, size, options = {}) {
    this._loading?.abort();
    const ctl = new AbortController();
    this._loading = ctl;
    const mine = () => this._loading === ctl;
    this._loadingName = name;
    this.$error.hidden = true;
    this.setAttribute('state', 'loading');
    this._setProgress(0, size);
    try {
      const lens = await open(source, {
        ...options,
        name,
        signal: ctl.signal,
        onProgress: ({ loaded, total }) => mine() && this._setProgress(loaded, total),
        onHeader: (header) => {
          if (!mine()) return;
          this._show({ name, ...header });
          this._emit('bitlens-header', { name, info: header.info });
        },
      });
      if (!mine()) {
        lens.close();
        return;
      }
      this._loading = null;
      const old = this._lens;
      this._lens = lens;
      this._good = { ...this._shown, name, info: await lens.info(), lens };
      old?.close();
      this._show(this._good);
      this._setProgress(Number(this._good.info.file_len), Number(this._good.info.file_len));
      this.$progressText.textContent = this._loadedText(lens, this._good.info);
      this.setAttribute('state', 'loaded');
      this.generate.reset();
      this.$panels.hidden = false;
      this.norms.show(name);
      this._showCache();
      this._emit('bitlens-loaded', { name, info: this._good.info, seconds: lens.seconds, from: lens.from });
    } catch (error) {
      if (!mine()) return;
      this._loading = null;
      this._showError(`Could not open ${name}`, error);
      // Its header may be on screen already: go back to the last good file.
      if (this._good) this._show(this._good);
      else {
        this._shown = null;
        this.$content.hidden = true;
      }
      this._emit('bitlens-error', { name, error: { message: error.message, kind: error.kind } });
    }
  }

  _loadedText(lens, info) {
    const size = formatBytes(info.file_len);
    if (lens.shared) return `${lens.name}: ${size}, already open on this page`;
    const mbps = info.file_len / 1e6 / Math.max(lens.seconds, 1e-9);
    const from = lens.from === 'cache' ? ` from the browser cache${cacheCheckText(lens.cacheCheck)}` : '';
    return `${lens.name}: ${size} loaded${from} in ${lens.seconds.toFixed(2)} s (${mbps.toFixed(0)} MB/s)`;
  }

  _setProgress(loaded, total) {
    if (total) {
      this.$progress.max = total;
      this.$progress.value = loaded;
      const pct = Math.floor((100 * loaded) / total);
      this.$progressText.textContent = `${this._loadingName}: ${formatBytes(loaded)} of ${formatBytes(total)} (${pct}%)`;
    } else {
      this.$progress.removeAttribute('value');
      this.$progressText.textContent = `${this._loadingName}: starting…`;
    }
  }

  async _showCache() {
    let models = [];
    try {
      models = await cachedModels();
    } catch {
      // no Cache API here: nothing cached
    }
    this.$cache.textContent = models.length
      ? models.map((m) => `${nameOfUrl(m.url)} (${formatBytes(m.bytes)})`).join(', ')
      : 'nothing';
    this.$cache.title = models.map((m) => m.url).join('\n');
    this.$clearCache.hidden = models.length === 0;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  _showError(what, error) {
    this.$error.textContent = `${what}: ${error.message} (${error.kind})`;
    this.$error.hidden = false;
    this.setAttribute('state', 'error');
    if (this._good) {
      this.$progress.max = 1;
      this.$progress.value = 1;
      this.$progressText.textContent = `showing ${this._good.name}`;
    }
  }

  _show(view) {
    this._shown = view;
    this.$title.textContent = view.name;
    this._renderSummary(view);
    this._renderMetadata(view);
    this._renderTensors(view);
    this.$content.hidden = false;
  }

  _renderSummary({ info, tensors, memory }) {
    const typeCounts = new Map();
    for (const t of tensors) typeCounts.set(t.type, (typeCounts.get(t.type) || 0) + 1);
    const types = [...typeCounts].map(([t, n]) => `${t} × ${n}`).join(', ');
    const lastEnd = tensors.reduce((m, t) => Math.max(m, Number(t.data_end)), Number(info.data_offset));
    const rows = [
      ['GGUF version', String(info.version)],
      ['architecture', info.architecture ?? '(none)'],
      ['type ids 36..39', info.fork_types ? "bitnet.cpp's I2_S, I8_S, TL1, TL2" : 'mainline ggml meaning'],
      ['file size', `${formatBytes(info.file_len)} (${info.file_len} bytes)`],
      ['header', `${info.header_len} bytes: ${info.metadata_count} metadata keys, ${info.tensor_count} tensors`],
      ['alignment', `${info.alignment} bytes; tensor data starts at byte ${info.data_offset}`],
      ['tensor data', `${formatBytes(info.tensor_bytes)} (${info.tensor_bytes} bytes)`],
      ['tensor types', types || '(no tensors)'],
      ['after the last tensor', `${Math.max(0, Number(info.file_len) - lastEnd)} bytes`],
      ['loaded', `${info.loaded} of ${info.file_len} bytes`],
    ];
    this.$summary.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    this.$notes.replaceChildren(...info.notes.map((n) => el('li', {}, n)));
    this.$memory.textContent = memory ? memoryText(memory) : '';
  }

  _renderMetadata(view) {
    const rows = view.metadata.map((e) => {
      const value = el('td', { class: 'value' });
      if (e.type === 'array') {
        const head = e.values.map((v) => formatElement(v, e.elem_type)).join(', ');
        value.append(`[${e.elem_type} × ${e.count}] ${head}${e.truncated ? ', …' : ''}`);
        if (e.truncated) {
          const button = el('button', { type: 'button', class: 'show-all' }, `show all ${e.count}`);
          button.addEventListener('click', async () => {
            button.disabled = true;
            try {
              const arr = await view.lens.array(e.key);
              const lines = arr.values.map((v, i) => `${i}\t${formatElement(v, arr.elem_type)}`).join('\n');
              button.replaceWith(el('pre', { class: 'all' }, lines));
            } catch (err) {
              button.replaceWith(el('span', { class: 'array-error' }, `cannot fetch: ${err.message}`));
            }
          });
          value.append(' ', button);
        }
      } else {
        value.append(formatValue(e.value, e.type));
      }
      const tr = el('tr', {}, [el('td', { class: 'key' }, e.key), el('td', {}, e.type), value]);
      tr.dataset.key = e.key;
      return tr;
    });
    this.$metadata.replaceChildren(...rows);
  }

  _renderTensors(view) {
    const rows = view.tensors.map((t) => {
      const type = el('td', { class: 'type' }, t.type);
      type.title = `type id ${t.type_id}${t.size_inferred ? '; size taken from the room up to the next tensor' : ''}`;
      const offset = el('td', { class: 'num offset' }, String(t.data_start));
      offset.title = `data section + ${t.offset}`;
      const tr = el('tr', {}, [
        el('td', { class: 'name' }, t.name),
        type,
        el('td', { class: 'shape' }, formatShape(t.dims)),
        offset,
        el('td', { class: 'num bytes' }, String(t.n_bytes)),
      ]);
      tr.dataset.name = t.name;
      return tr;
    });
    this.$tensors.replaceChildren(...rows);
  }
}

/** How a cached copy was checked against the server (`Lens.cacheCheck`), as a clause. */
export function cacheCheckText(check) {
  switch (check?.status) {
    case 'not-modified':
      return ' (unchanged on the server)';
    case 'offline':
      return ' (offline: the server could not be reached, so this copy may be out of date)';
    case 'http':
      return ` (the server answered ${check.detail}, so this copy may be out of date)`;
    case 'unchecked':
      return ' (the server gives no ETag or Last-Modified to check it against)';
    default:
      return '';
  }
}

/** The header's memory estimate as a sentence. */
export function memoryText(m) {
  const mib = (n) => formatBytes(n);
  if (!m.runnable) return `Memory: ${mib(m.fileBytes)} for the file; it cannot run (${m.reason}).`;
  return `Memory to run: about ${mib(m.total)}: the file ${mib(m.fileBytes)} + ${m.modes} modes × ${mib(m.perMode)} (KV cache ${mib(m.kvCache)} for ${m.nCtx} positions, activations ${mib(m.activations)}).`;
}

if (!customElements.get('bit-lens')) customElements.define('bit-lens', BitLens);
