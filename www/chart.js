// Line charts as inline SVG, built with DOM APIs only (labels are Text nodes, never markup).
// Each chart is an image to assistive technology (role="img") named by its aria-label and
// <title>, with a text alternative in <desc>: the caller's (say, where a table holds the same
// numbers) or else every plotted value.

const SVG_NS = 'http://www.w3.org/2000/svg';
// Tick labels are 10px (bit-lens.js's `.chart .tick`): a width per character (DejaVu Sans's
// digits are 6.36) and the clear space kept between two labels, in viewBox units (the SVG
// scales as a whole, so labels that clear each other here clear each other at any size).
const TICK_CHAR_W = 6.4;
const TICK_GAP = 3;
const TICK_LINE_H = 14;
const LEGEND_ROW_H = 14;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Powers of ten (and 2x, 5x when there is room) between lo and hi, for a log axis `h` units
 * tall: never closer than one label line; with many decades, every k-th power only.
 */
function logTicks(lo, hi, h) {
  const maxTicks = Math.max(2, Math.floor(h / TICK_LINE_H));
  const [e0, e1] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  const inRange = (v) => v >= lo * 0.999 && v <= hi * 1.001;
  for (const steps of [[1, 2, 5], [1]]) {
    const ticks = [];
    for (let e = e0; e <= e1; e++) for (const m of steps) if (inRange(m * 10 ** e)) ticks.push(m * 10 ** e);
    if (ticks.length <= maxTicks) return ticks;
  }
  const every = Math.ceil((e1 - e0 + 1) / maxTicks);
  const ticks = [];
  for (let e = e0; e <= e1; e++) if (e % every === 0 && inRange(10 ** e)) ticks.push(10 ** e);
  return ticks;
}

function tickText(v) {
  return v >= 1e4 || v < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

/**
 * Which x labels to draw, `spacing` units apart, so that no two drawn ones touch: every
 * `step`-th (1, 2, 5, 10, 20, ...) from the first, and the last one, which replaces the one
 * before it when the two would touch.
 */
function shownXLabels(xLabels, spacing) {
  const last = xLabels.length - 1;
  if (last < 0) return [];
  const half = (i) => (xLabels[i].length * TICK_CHAR_W) / 2;
  const clear = (i, j) => (j - i) * spacing >= half(i) + half(j) + TICK_GAP;
  for (let k = 0, step = 1; step <= last; k++, step = [1, 2, 5][k % 3] * 10 ** Math.floor(k / 3)) {
    const shown = [];
    for (let i = 0; i <= last; i += step) shown.push(i);
    if (shown.at(-1) !== last) {
      if (shown.length > 1 && !clear(shown.at(-1), last)) shown.pop();
      shown.push(last);
    }
    if (shown.every((i, n) => n === 0 || clear(shown[n - 1], i))) return shown;
  }
  return last > 0 && clear(0, last) ? [0, last] : [0];
}

/** The legend's entries placed in rows of at most `w` units: [{s, dx, row}]. */
function legendLayout(series, w) {
  const out = [];
  let [dx, row] = [0, 0];
  for (const s of series) {
    const width = 26 + s.label.length * 6.5;
    if (dx + width > w && dx > 0) [dx, row] = [0, row + 1];
    out.push({ s, dx, row });
    dx += width + 10;
  }
  return out;
}

const fmt = (v) => Number(v.toPrecision(4));

/** Every plotted value, series by series: "attn_norm: 0 = 0.9294, 1 = 0.9515; ffn_norm: …". */
function dataText(series, xLabels) {
  return series
    .map((s) => `${s.label}: ${s.points.map(([i, v]) => `${xLabels[i]} = ${fmt(v)}`).join(', ')}`)
    .join('; ');
}

/**
 * A log-scale line chart.
 * series: [{label, color, dash?, points: [[xIndex, y], ...]}]; xLabels: one label per x index;
 * xLabel: what x is (default "layer"); yRange: optional [lo, hi] (to share a scale between
 * charts); description: the text alternative (default: every plotted value). Non-positive y
 * values are skipped.
 */
export function logLineChart({
  series, xLabels, xLabel = 'layer', yLabel, title, yRange, description, width = 520, height = 240,
}) {
  const m = { left: 52, right: 12, top: title ? 24 : 10 };
  const w = width - m.left - m.right;
  const legend = legendLayout(series, w);
  const legendRows = legend.length ? legend.at(-1).row + 1 : 0;
  // x labels, then the legend's rows; the chart grows rather than clip the legend.
  m.bottom = 30 + legendRows * LEGEND_ROW_H;
  height = Math.max(height, m.top + m.bottom + 120);
  const h = height - m.top - m.bottom;
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0 && Number.isFinite(y));
  let [lo, hi] = yRange || [Math.min(...ys), Math.max(...ys)];
  if (!(lo > 0) || !Number.isFinite(hi)) [lo, hi] = [0.1, 1];
  // Pad to whole tick steps so the lines do not touch the frame.
  lo = lo / 1.3;
  hi = hi * 1.3;
  const n = Math.max(1, xLabels.length - 1);
  const x = (i) => m.left + (xLabels.length === 1 ? w / 2 : (i / n) * w);
  const y = (v) => m.top + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;

  const what = title || yLabel || 'chart';
  const span = xLabels.length > 1 ? ` (${xLabels[0]} to ${xLabels.at(-1)})` : '';
  const label = `${what}: log-scale line chart of ${series.map((s) => s.label).join(', ')} by ${xLabel}${span}`;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart', 'aria-label': label });
  root.append(svg('title', {}, label), svg('desc', {}, description || `The values: ${dataText(series, xLabels)}.`));
  if (title) root.append(svg('text', { x: m.left, y: 15, class: 'chart-title' }, title));
  root.append(svg('rect', { x: m.left, y: m.top, width: w, height: h, fill: 'none', stroke: '#c8c8cc' }));
  for (const t of logTicks(lo, hi, h)) {
    root.append(svg('line', { x1: m.left, x2: m.left + w, y1: y(t), y2: y(t), stroke: '#ececef' }));
    root.append(svg('text', { x: m.left - 5, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, tickText(t)));
  }
  // A tick mark at every x; a label where there is room for it.
  xLabels.forEach((_, i) => {
    root.append(svg('line', { x1: x(i), x2: x(i), y1: m.top + h, y2: m.top + h + 3, stroke: '#c8c8cc' }));
  });
  for (const i of shownXLabels(xLabels, xLabels.length > 1 ? w / n : w)) {
    root.append(svg('text', { x: x(i), y: m.top + h + 15, 'text-anchor': 'middle', class: 'tick x-tick' }, xLabels[i]));
  }
  if (yLabel) {
    root.append(svg('text', { transform: `translate(12 ${m.top + h / 2}) rotate(-90)`, 'text-anchor': 'middle', class: 'tick' }, yLabel));
  }
  for (const s of series) {
    const pts = s.points.filter(([, v]) => v > 0 && Number.isFinite(v));
    if (pts.length === 0) continue;
    const g = svg('g', { class: 'series' });
    g.dataset.label = s.label;
    if (pts.length > 1) {
      const d = pts.map(([i, v], k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)}`).join(' ');
      g.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash || 'none' }));
    }
    for (const [i, v] of pts) {
      const c = svg('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: s.dash ? 2 : 3, fill: s.color });
      c.append(svg('title', {}, `${s.label}, ${xLabels[i]}: ${v.toPrecision(4)}`));
      g.append(c);
    }
    root.append(g);
  }
  // Legend below the x labels, in the rows laid out above.
  for (const { s, dx, row } of legend) {
    const [lx, ly] = [m.left + dx, m.top + h + 34 + row * LEGEND_ROW_H];
    root.append(svg('line', { x1: lx, x2: lx + 18, y1: ly - 4, y2: ly - 4, stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash || 'none' }));
    root.append(svg('text', { x: lx + 22, y: ly, class: 'tick' }, s.label));
  }
  return root;
}
