// Group colours and a small inline-SVG line chart (no library).
import { compact, h } from './dom.js';

// Distinct, colour-blind-friendlier palette (Okabe–Ito + Tableau extras), readable with dark text.
const PALETTE = ['#56b4e9', '#e69f00', '#009e73', '#f0e442', '#cc79a7', '#0072b2', '#d55e00', '#9ad0a0', '#b39ddb', '#ff9da7', '#bab0ac', '#76b7b2'];
export const OFFLINE_COLOR = '#d0d0d0';

export function groupColor(gid) {
  if (!gid) return OFFLINE_COLOR;
  return PALETTE[(gid - 1) % PALETTE.length];
}

/** A colour chip for legends (aria-hidden: the text next to it carries the meaning). */
export function chip(gid) {
  const el = h('span.chip', { 'aria-hidden': 'true' });
  el.style.background = groupColor(gid);
  return el;
}

/**
 * Line chart of series over time. series: [{ name, color, points: [{ at, v }] }].
 * Returns an <svg role="img"> whose aria-label states the latest values.
 */
export function lineChart(series, { width = 720, height = 220, label = 'chart', unit = '' } = {}) {
  const pad = { l: 52, r: 12, t: 12, b: 26 };
  const all = series.flatMap((s) => s.points);
  // Drawn at the container's pixel size (no stretching, so the labels stay crisp and undistorted).
  const svg = h('svg.chart', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  const latest = series.map((s) => `${s.name} ${compact(s.points.at(-1)?.v ?? 0)}${unit}`).join(', ');
  svg.setAttribute('aria-label', `${label}: ${all.length ? `latest ${latest}` : 'no data yet'}`);
  svg.appendChild(h('title', `${label}${all.length ? ` (latest ${latest})` : ''}`));
  if (all.length === 0) {
    svg.appendChild(h('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'waiting for data…'));
    return svg;
  }
  const t0 = Math.min(...all.map((p) => p.at));
  const t1 = Math.max(...all.map((p) => p.at), t0 + 1000);
  const step = niceStep(Math.max(1, ...all.map((p) => p.v)) / 4);
  const vmax = step * 4;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => pad.t + (1 - v / vmax) * (height - pad.t - pad.b);
  // Grid and y labels.
  for (let i = 0; i <= 4; i++) {
    const v = (vmax * i) / 4;
    svg.appendChild(h('line', { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    svg.appendChild(h('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, compact(v)));
  }
  // x labels: start and end times.
  const fmt = (t) => new Date(t).toLocaleTimeString(undefined, { hour12: false });
  svg.appendChild(h('text', { x: pad.l, y: height - 6, class: 'axis' }, fmt(t0)));
  svg.appendChild(h('text', { x: width - pad.r, y: height - 6, 'text-anchor': 'end', class: 'axis' }, fmt(t1)));
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    svg.appendChild(h('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke', class: 'series' }));
  }
  return svg;
}

/** The smallest 1, 2 or 5 x 10^k that is >= v (whole numbers: ops/s axes need no fractions). */
function niceStep(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * A horizontal 1024-slot strip coloured by owner (used by the rebalance preview): runs of equal colour are
 * drawn as one rect. owners: array of 1024 group ids; marks: optional Set of slot ids drawn hatched.
 */
export function slotStrip(owners, { width = 1024, height = 28, label = 'slots', marks } = {}) {
  const svg = h('svg.strip', { viewBox: `0 0 ${owners.length} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label });
  svg.style.width = '100%';
  svg.style.height = `${height}px`;
  void width;
  for (let i = 0; i < owners.length; ) {
    let j = i;
    while (j + 1 < owners.length && owners[j + 1] === owners[i]) j++;
    svg.appendChild(h('rect', { x: i, y: 0, width: j - i + 1, height, fill: groupColor(owners[i]) }, h('title', `slots ${i}-${j}: ${owners[i] ? `group ${owners[i]}` : 'offline'}`)));
    i = j + 1;
  }
  if (marks) {
    for (const s of marks) svg.appendChild(h('rect', { x: s, y: height - 6, width: 1, height: 6, class: 'strip-mark' }));
  }
  return svg;
}
