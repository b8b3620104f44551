// DOM and text helpers. `el` only ever sets text (textContent via Text nodes) and attributes,
// so strings from a file can never become markup.

/** Creates an element with attributes and children (strings become Text nodes). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of Array.isArray(children) ? children : [children]) {
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** A metadata value as text: strings as they are at top level, numbers/BigInts in full. */
export function formatValue(v, type) {
  if (typeof v === 'string') return v;
  if (type === 'f32') return formatF32(v);
  return String(v);
}

/** An array element: strings quoted and escaped so that spaces and control bytes are visible. */
export function formatElement(v, type) {
  return typeof v === 'string' ? JSON.stringify(v) : formatValue(v, type);
}

/** The shortest decimal that reads back as the same f32 (1e-5, not 0.000009999999747378752). */
export function formatF32(v) {
  if (!Number.isFinite(v)) return String(v);
  for (let digits = 1; digits <= 9; digits++) {
    const s = v.toPrecision(digits);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

export function formatShape(dims) {
  return `[${dims.map(String).join(', ')}]`;
}

export function formatBytes(n) {
  const x = Number(n);
  if (x < 1024) return `${x} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
