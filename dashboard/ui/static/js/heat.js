// Load heat for the slot map: ops/s per slot (GET /api/v1/load) on a log scale, 0 (idle) .. 10 (hottest).
export const HEAT_LEVELS = 10;

/** Heat level of `ops` relative to the hottest slot `max` (log scale, so one hot slot does not blank the rest). */
export function heatLevel(ops, max) {
  if (!(ops > 0) || !(max > 0)) return 0;
  const l = Math.ceil((HEAT_LEVELS * Math.log1p(ops)) / Math.log1p(max));
  return Math.max(1, Math.min(HEAT_LEVELS, l));
}

/** Colour of a level: pale grey for idle, then yellow to deep red. */
export function heatColor(level) {
  if (level <= 0) return '#e8e8ee';
  const t = (level - 1) / (HEAT_LEVELS - 1);
  const hue = 55 - 55 * t; // 55 (yellow) -> 0 (red)
  const light = 72 - 30 * t;
  return `hsl(${hue.toFixed(0)} 90% ${light.toFixed(0)}%)`;
}
