// Line charts as inline SVG, built with DOM APIs only (labels are Text nodes, never markup).

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Powers of ten (and 2x, 5x when the range is short) between lo and hi, for a log axis. */
function logTicks(lo, hi) {
  const ticks = [];
  const span = Math.log10(hi) - Math.log10(lo);
  const steps = span < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function tickText(v) {
  return v >= 1e4 || v < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

/**
 * A log-scale line chart.
 * series: [{label, color, dash?, points: [[xIndex, y], ...]}]; xLabels: one label per x index;
 * yRange: optional [lo, hi] (to share a scale between charts). Non-positive y values are skipped.
 */
export function logLineChart({ series, xLabels, yLabel, title, yRange, width = 520, height = 240 }) {
  const m = { left: 52, right: 12, top: title ? 24 : 10, bottom: 58 };
  const w = width - m.left - m.right;
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

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart' });
  if (title) root.append(svg('text', { x: m.left, y: 15, class: 'chart-title' }, title));
  root.append(svg('rect', { x: m.left, y: m.top, width: w, height: h, fill: 'none', stroke: '#c8c8cc' }));
  for (const t of logTicks(lo, hi)) {
    root.append(svg('line', { x1: m.left, x2: m.left + w, y1: y(t), y2: y(t), stroke: '#ececef' }));
    root.append(svg('text', { x: m.left - 5, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, tickText(t)));
  }
  xLabels.forEach((label, i) => {
    root.append(svg('text', { x: x(i), y: m.top + h + 15, 'text-anchor': 'middle', class: 'tick' }, label));
  });
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
  // Legend below the x labels, wrapping into rows.
  let lx = m.left;
  let ly = m.top + h + 34;
  for (const s of series) {
    const width = 26 + s.label.length * 6.5;
    if (lx + width > m.left + w && lx > m.left) {
      lx = m.left;
      ly += 14;
    }
    root.append(svg('line', { x1: lx, x2: lx + 18, y1: ly - 4, y2: ly - 4, stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash || 'none' }));
    root.append(svg('text', { x: lx + 22, y: ly, class: 'tick' }, s.label));
    lx += width + 10;
  }
  return root;
}
