// Failover pieces of the groups page: the group's failover state, its last failover, replica lag and stale servers.
import { badge, bytes, h } from '../dom.js';

const TONE = { ok: 'good', suspect: 'warn', 'failing-over': 'warn', 'no-eligible-replica': 'bad', cooldown: 'warn', disabled: 'muted', 'not-leader': 'muted' };

/** Badge + last failover + alert for the group head (null when the dashboard has no failover view yet). */
export function failoverHead(fg) {
  if (!fg) return null;
  const state = fg.enabled ? fg.state : `${fg.state}, disabled`;
  const last = fg.lastFailover ? h('span.small.muted', `last failover ${fg.lastFailover.at}: ${fg.lastFailover.from} → ${fg.lastFailover.to} ${fg.lastFailover.result} in ${fg.lastFailover.durationMs} ms`) : null;
  const alert = fg.alert ? h('div.small.error-text', { role: 'alert' }, fg.alert) : null;
  return h('span.failover', { 'data-failover': fg.state }, badge(`failover: ${state}`, fg.enabled ? (TONE[fg.state] ?? 'muted') : 'muted'), ' ', last, alert);
}

/** Lag / stale note for a replica row. */
export function replicaNote(fg, addr) {
  const r = fg?.replicas.find((x) => x.addr === addr);
  if (!r) return null;
  if (r.stale) return badge('stale: not a replica of the master yet', 'bad');
  if (r.lagBytes === null) return null;
  return h('span.small', { 'data-lag': String(r.lagBytes) }, ` lag ${bytes(r.lagBytes)}`);
}
