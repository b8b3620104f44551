// <norm-rms-table src="model.gguf">: the RMS of every norm gamma of a GGUF file, as a table,
// printed with the bitlens JS API. A custom element, so that it also works when Material's
// instant navigation swaps the page in without a reload.
import { open } from '../bitlens/bit-lens.js';

class NormRmsTable extends HTMLElement {
  async connectedCallback() {
    const ctl = new AbortController();
    this.abort = ctl;
    this.textContent = 'loading…';
    try {
      const lens = await open(new URL(this.getAttribute('src'), document.baseURI), { signal: ctl.signal });
      this.lens = lens;
      const report = await lens.norms();
      const norms = [...report.layers.flatMap((l) => l.norms), ...report.global];
      const table = document.createElement('table');
      const row = (cells, tag) => {
        const tr = table.insertRow();
        for (const c of cells) {
          const td = document.createElement(tag);
          td.textContent = c; // file strings as text, never HTML
          tr.append(td);
        }
        return tr;
      };
      row(['tensor', 'n', 'RMS', '1/√n'], 'th');
      for (const n of norms) row([n.name, String(n.n), n.rms.toFixed(6), n.inv_sqrt_n.toFixed(6)], 'td').dataset.name = n.name;
      this.replaceChildren(table);
      this.setAttribute('state', 'done');
    } catch (e) {
      if (e.kind !== 'aborted') this.textContent = `bitlens: ${e.message} (${e.kind})`;
    }
  }

  disconnectedCallback() {
    this.abort?.abort();
    this.lens?.close();
    this.lens = null;
  }
}

if (!customElements.get('norm-rms-table')) customElements.define('norm-rms-table', NormRmsTable);
