/**
 * Load views over the dashboard API (dashboard/load/):
 *   redslot hotkeys [--limit N]         the hottest keys across proxies, ops/s each (sampled estimates)
 *   redslot slots --load [--limit N]    ops/s and bytes/s per group, then the N busiest slots
 */
import type { ClusterLoad, HotKeyView } from './api-client.js';
import { bytes } from './migrations.js';
import { flagInt, UsageError } from './args.js';
import { table } from './format.js';
import type { CliRun } from './run.js';

function rate(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}

function proxiesLine(l: ClusterLoad): string[] {
  const bad = l.proxies.filter((p) => !p.ok || !p.counting);
  const lines = [`${l.proxies.length} prox${l.proxies.length === 1 ? 'y' : 'ies'} counted`];
  for (const p of bad) lines.push(`warning: proxy ${p.id} ${p.ok ? 'runs with load.count: false' : `not read: ${p.error ?? 'error'}`}`);
  return lines;
}

export function formatHotKeys(keys: HotKeyView[]): string {
  if (keys.length === 0) return 'no hot keys sampled yet (is traffic flowing through the proxies?)';
  return table(
    ['#', 'KEY', 'OPS/S', '±', 'SLOT', 'GROUP', 'PROXIES'],
    keys.map((k, i) => [String(i + 1), `"${k.key}"${k.truncated ? ` (first ${Buffer.from(k.keyBase64, 'base64').length} of ${k.length} bytes)` : ''}`, rate(k.opsPerSec), rate(k.errorPerSec), String(k.slot), String(k.group), String(k.proxies)]),
  );
}

export function formatLoad(l: ClusterLoad, limit: number): string {
  const lines = [`total ${rate(l.opsPerSec)} ops/s, ${bytes(l.bytesPerSec)}/s`];
  lines.push(table(['GROUP', 'SLOTS', 'OPS/S', 'BYTES/S', 'SHARE'], l.groups.map((g) => [String(g.id), String(g.slots), rate(g.opsPerSec), `${bytes(g.bytesPerSec)}/s`, l.opsPerSec > 0 ? `${((100 * g.opsPerSec) / l.opsPerSec).toFixed(1)}%` : '-'])));
  const busiest = [...l.slots].sort((a, b) => b.opsPerSec - a.opsPerSec).slice(0, limit);
  if (busiest.length > 0) {
    lines.push('', `busiest slots (${busiest.length} of ${l.slots.length} with load):`);
    lines.push(table(['SLOT', 'GROUP', 'OPS/S', 'BYTES/S'], busiest.map((s) => [String(s.id), String(s.group), rate(s.opsPerSec), `${bytes(s.bytesPerSec)}/s`])));
  }
  lines.push(...proxiesLine(l));
  return lines.join('\n');
}

export async function cmdHotkeys(r: CliRun): Promise<void> {
  if (r.rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(r.rest[0])}`);
  const h = await r.client.hotKeys(flagInt(r.args, 'limit', 1, 1000) ?? 20);
  r.out(formatHotKeys(h.keys), h);
}

export async function cmdSlotsLoad(r: CliRun): Promise<void> {
  const l = await r.client.load();
  r.out(formatLoad(l, flagInt(r.args, 'limit', 1, 1024) ?? 20), l);
}
