// <bit-lens>: drop or choose a GGUF file and see its metadata, tensor table and layout, its
// norm statistics (with the experimental sqrt(n) rescale and the export), and run it in both
// modes side by side.
// Embeddable: `<script type="module" src=".../bit-lens.js"></script><bit-lens src="model.gguf">`.
// The wasm module and the file live in a Worker (worker.js); this element only renders.
// Every string that comes from a file goes into the DOM as text (textContent), never as HTML.
import { BUILT_IN_MODELS, DEFAULT_MODEL_URL } from './config.js';
import { GeneratePanel } from './generate-panel.js';
import { NormsPanel, optionsFromUrl } from './norms-panel.js';
import { el, formatBytes, formatElement, formatShape, formatValue } from './render.js';

const STYLE = `
:host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d1d1f; }
.drop { border: 2px dashed #8a8f98; border-radius: 8px; padding: 1.2em; text-align: center; }
.drop.over { border-color: #0a66c2; background: #eef5fc; }
.status { margin: .6em 0; display: flex; gap: .8em; align-items: center; min-height: 1.6em; }
progress { width: 16em; }
.error, .norms-error { margin: .6em 0; padding: .6em .8em; border-radius: 6px; background: #fde8e8;
  color: #8a1111; white-space: pre-wrap; }
table { border-collapse: collapse; margin: .4em 0 1.2em; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e6; padding: .25em .6em; text-align: left;
  vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.value { max-width: 60em; white-space: pre-wrap; word-break: break-word; }
td.value .all { max-height: 24em; overflow: auto; margin: .3em 0 0; font-size: 12px; }
code, td.name, td.key { font-family: ui-monospace, monospace; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dt { color: #5f6368; }
dd { margin: 0; }
[hidden] { display: none !important; }
.builtin { margin-top: .5em; }
.builtin button { margin: 0 .3em; }
.hint { color: #5f6368; margin: .2em 0 .6em; max-width: 60em; }
.verdict { font-weight: 600; }
.warn { color: #9c4a00; }
.controls { display: flex; flex-wrap: wrap; gap: .6em 1.2em; align-items: center; margin: .5em 0; }
.controls label.prompt { display: flex; gap: .5em; align-items: flex-start; flex: 1; }
textarea { flex: 1; min-width: 20em; font: 13px ui-monospace, monospace; }
input[type=number] { width: 5.5em; }
.chart-box svg { max-width: 100%; height: auto; }
.chart .tick { font-size: 10px; fill: #5f6368; }
.chart .chart-title { font-size: 12px; fill: #1d1d1f; }
.modes { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; }
.mode { border: 1px solid #e3e3e6; border-radius: 8px; padding: .4em .8em; min-width: 0; }
.mode h4 { margin: .3em 0; }
.speed { display: block; font-weight: normal; color: #5f6368; font-size: 12px; }
.gen-text { white-space: pre-wrap; word-break: break-word; height: 12em; background: #f7f7f8;
  padding: .5em; border-radius: 4px; font-size: 13px; margin: .3em 0; overflow: auto; }
.mode-note { color: #9c4a00; margin: .2em 0; }
.mode-score { margin: .2em 0; font-size: 13px; }
.verdict { font-weight: 600; margin: .4em 0; }
section.norms, section.generate { margin: 1em 0 1.5em; }
`;

export class BitLens extends HTMLElement {
  static get observedAttributes() {
    return ['src'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this._nextId = 1;
    this._pending = new Map(); // request id → {resolve, reject} for one-reply requests
    this._streams = new Map(); // request id → callback, for a generation's many messages
    this._loadingId = null; // the open request whose results we are waiting for
    this._shown = null; // {id, name, info, metadata, tensors} currently on screen
    this._good = null; // the last file that loaded completely (shown again after an error)
    this._build();
  }

  connectedCallback() {
    if (this._worker) return;
    // The page's `?build=` (which wasm build to run; `npm run bench` sets it) goes to the worker.
    const workerUrl = new URL('./worker.js', import.meta.url);
    const build = new URLSearchParams(location.search).get('build');
    if (build) workerUrl.searchParams.set('build', build);
    this._worker = new Worker(workerUrl, { type: 'module' });
    this._worker.onmessage = (e) => this._onMessage(e.data);
    this._worker.onerror = (e) => this._showError('the worker failed', { message: e.message, kind: 'worker' });
    const src = this.getAttribute('src');
    this.openUrl(src === null ? DEFAULT_MODEL_URL : src);
  }

  disconnectedCallback() {
    this._worker?.terminate();
    this._worker = null;
  }

  attributeChangedCallback(name, old, value) {
    if (name === 'src' && this._worker && old !== value && value) this.openUrl(value);
  }

  /** Opens a File or Blob (read in File.slice chunks by the worker). */
  open(file, name = file.name || 'file') {
    this._start(name, file.size);
    this._worker.postMessage({ id: this._loadingId, type: 'openBlob', blob: file, name });
  }

  /** Opens a URL (streamed from the response body). An empty string opens nothing. */
  openUrl(url) {
    if (!url) return;
    const name = decodeURIComponent(new URL(url, document.baseURI).pathname.split('/').pop());
    this._start(name, null);
    const absolute = new URL(url, document.baseURI).href;
    this._worker.postMessage({ id: this._loadingId, type: 'openUrl', url: absolute, name });
  }

  _build() {
    const r = this.shadowRoot;
    r.append(el('style', {}, STYLE));
    this.$input = el('input', { type: 'file', accept: '.gguf' });
    this.$drop = el('section', { class: 'drop', part: 'drop' }, [
      'Drop a GGUF file here or ',
      el('label', {}, [el('strong', {}, 'choose one'), this.$input]),
    ]);
    this.$input.style.marginLeft = '.5em';
    this.$drop.append(el('div', { class: 'builtin' }, [
      'or open a built-in model:',
      ...BUILT_IN_MODELS.map((m, i) => {
        const b = el('button', { type: 'button', 'data-testid': `builtin-${i}` }, m.label);
        b.addEventListener('click', () => this.openUrl(m.url));
        return b;
      }),
    ]));
    this.norms = new NormsPanel((type, payload) => this._request(type, payload), optionsFromUrl());
    this.generate = new GeneratePanel({
      start: (payload, onMessage) => this._stream('generate', payload, onMessage),
      stop: () => this._worker.postMessage({ id: this._nextId++, type: 'stop' }),
      strict: () => this.norms.options.strict,
    });
    this.$panels = el('div', { class: 'panels', hidden: '' }, [this.norms.root, this.generate.root]);
    this.$progress = el('progress', { max: '1', value: '0' });
    this.$progressText = el('span', { class: 'progress-text' });
    this.$status = el('div', { class: 'status', role: 'status' }, [this.$progress, this.$progressText]);
    this.$error = el('div', { class: 'error', role: 'alert', hidden: '' });
    this.$title = el('h2', { class: 'file-name' });
    this.$summary = el('dl', { class: 'summary' });
    this.$notes = el('ul', { class: 'notes' });
    this.$metadata = el('tbody');
    this.$tensors = el('tbody');
    this.$content = el('div', { class: 'content', hidden: '' }, [
      this.$title,
      el('h3', {}, 'Layout'),
      this.$summary,
      this.$notes,
      this.$panels,
      el('h3', {}, 'Metadata'),
      el('table', { class: 'metadata' }, [
        el('thead', {}, el('tr', {}, ['Key', 'Type', 'Value'].map((h) => el('th', {}, h)))),
        this.$metadata,
      ]),
      el('h3', {}, 'Tensors'),
      el('table', { class: 'tensors' }, [
        el('thead', {}, el('tr', {}, ['Name', 'Type', 'Shape', 'Offset', 'Bytes'].map((h) => el('th', {}, h)))),
        this.$tensors,
      ]),
    ]);
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

  _start(name, size) {
    this._loadingId = this._nextId++;
    this._loadingName = name;
    this._t0 = performance.now();
    this.$error.hidden = true;
    this.setAttribute('state', 'loading');
    this._setProgress(0, size);
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

  _onMessage(msg) {
    const stream = this._streams.get(msg.id);
    if (stream) {
      if (msg.type === 'done' || msg.type === 'error') this._streams.delete(msg.id);
      stream(msg);
      return;
    }
    const waiter = this._pending.get(msg.id);
    if (waiter) {
      this._pending.delete(msg.id);
      if (msg.type === 'error') waiter.reject(Object.assign(new Error(msg.error.message), msg.error));
      else waiter.resolve(msg);
      return;
    }
    if (msg.id !== this._loadingId) return; // an abandoned load
    switch (msg.type) {
      case 'progress':
        this._setProgress(msg.loaded, msg.total);
        break;
      case 'header':
        this._show({ id: msg.id, name: this._loadingName, info: msg.info, metadata: msg.metadata, tensors: msg.tensors });
        this._emit('bitlens-header', { name: this._loadingName, info: msg.info });
        break;
      case 'loaded': {
        this._good = { ...this._shown, info: msg.info };
        this._renderSummary(this._good);
        const mbps = msg.info.file_len / 1e6 / Math.max(msg.seconds, 1e-9);
        this.$progressText.textContent = `${this._loadingName}: ${formatBytes(msg.info.file_len)} loaded in ${msg.seconds.toFixed(2)} s (${mbps.toFixed(0)} MB/s)`;
        this.setAttribute('state', 'loaded');
        this.generate.reset();
        this.$panels.hidden = false;
        this.norms.show(this._loadingName);
        this._emit('bitlens-loaded', { name: this._loadingName, info: msg.info, seconds: msg.seconds });
        break;
      }
      case 'error':
        if (msg.error.kind === 'superseded') return;
        this._showError(`Could not open ${this._loadingName}`, msg.error);
        if (this._shown && this._shown.id === msg.id) {
          // Its header was shown already: go back to the last good file.
          if (this._good) this._show(this._good);
          else {
            this._shown = null;
            this.$content.hidden = true;
          }
        }
        this._emit('bitlens-error', { name: this._loadingName, error: msg.error });
        break;
    }
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

  /** Asks the worker for one metadata array in full. */
  _fetchArray(fileId, key) {
    return this._request('array', { file: fileId, key }).then((msg) => msg.array);
  }

  /** One request to the worker about the last complete file (unless `payload.file` says). */
  _request(type, payload) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      this._worker.postMessage({ file: this._good?.id, ...payload, id, type });
    });
  }

  /** A request whose replies stream in until 'done' or 'error'. */
  _stream(type, payload, onMessage) {
    const id = this._nextId++;
    this._streams.set(id, onMessage);
    this._worker.postMessage({ file: this._good?.id, ...payload, id, type });
  }

  _show(view) {
    this._shown = view;
    this.$title.textContent = view.name;
    this._renderSummary(view);
    this._renderMetadata(view);
    this._renderTensors(view);
    this.$content.hidden = false;
  }

  _renderSummary({ info, tensors }) {
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
              const arr = await this._fetchArray(view.id, e.key);
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

if (!customElements.get('bit-lens')) customElements.define('bit-lens', BitLens);
