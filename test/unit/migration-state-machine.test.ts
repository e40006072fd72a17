import { describe, expect, it } from 'vitest';
import { abortRecord, actionKey, advance, nextStateName, parseSettings, DEFAULT_SETTINGS } from '../../dashboard/migration/state-machine.js';
import { migrationMetricNames } from '../../dashboard/metrics/migration.js';
import { routeOf } from '../../shared/model/topology.js';
import type { SlotRecord, Topology } from '../../shared/model/types.js';
import { RedslotError } from '../../shared/errors.js';
import { Throttle } from '../../dashboard/migration/throttle.js';
import { displayKey } from '../../dashboard/migration/keys.js';
import { encode } from '../../dashboard/redis/link.js';

function topo(slot: SlotRecord): Topology {
  const groups = new Map([
    [1, { id: 1, weight: 1, servers: [{ addr: 'a:1', role: 'master' as const }] }],
    [2, { id: 2, weight: 1, servers: [{ addr: 'b:2', role: 'master' as const }] }],
  ]);
  const slots: SlotRecord[] = Array.from({ length: 1024 }, (_, id) => ({ id, group: 1 }));
  slots[slot.id] = slot;
  return { revision: 1, groups, slots };
}

describe('slot action state machine', () => {
  it('walks pending -> preparing -> prepared -> migrating -> finished -> cleared, and proxies see the Codis routes', () => {
    let s: SlotRecord = { id: 7, group: 1, action: { state: 'pending', target: 2, index: 3, job: 'j' } };
    const seen: string[] = [];
    const routes: string[] = [];
    for (;;) {
      const r = routeOf(topo(s), 7);
      routes.push(`${r.backend}${r.migrateFrom ? `<${r.migrateFrom}` : ''}${r.locked ? ' locked' : ''}`);
      if (!s.action) break;
      seen.push(nextStateName(s));
      s = advance(s);
    }
    expect(seen).toEqual(['preparing', 'prepared', 'migrating', 'finished', 'cleared']);
    expect(s).toEqual({ id: 7, group: 2 });
    expect(routes).toEqual(['a:1', 'a:1', 'b:2<a:1 locked', 'b:2<a:1', 'b:2', 'b:2']);
    expect(() => advance(s)).toThrow(/no action/);
  });

  it('abort cancels before migrating, reverses from migrating/finished, never reverses an abort', () => {
    for (const state of ['pending', 'preparing', 'prepared'] as const) {
      const r = abortRecord({ id: 1, group: 1, action: { state, target: 2, index: 1, job: 'j' } }, 9);
      expect(r).toEqual({ kind: 'cancel', record: { id: 1, group: 1 } });
    }
    for (const state of ['migrating', 'finished'] as const) {
      const r = abortRecord({ id: 1, group: 1, action: { state, target: 2, index: 1, job: 'j' } }, 9);
      expect(r).toEqual({ kind: 'reverse', record: { id: 1, group: 2, action: { state: 'prepared', target: 1, index: 9, aborted: true, job: 'j' } } });
      // The reversed action holds the slot first (locked), with the old source as the target.
      expect(routeOf(topo(r.record), 1)).toMatchObject({ backend: 'a:1', migrateFrom: 'b:2', locked: true });
      expect(() => abortRecord(r.record, 10)).toThrow(RedslotError);
    }
    expect(() => abortRecord({ id: 1, group: 1 }, 1)).toThrow(/no action/);
  });

  it('action keys differ per action instance', () => {
    const a: SlotRecord = { id: 1, group: 1, action: { state: 'migrating', target: 2, index: 1 } };
    const b: SlotRecord = { id: 1, group: 2, action: { state: 'migrating', target: 1, index: 2, aborted: true } };
    expect(actionKey(a)).not.toBe(actionKey(b));
    expect(actionKey({ ...a, action: { ...a.action!, state: 'finished' } })).toBe(actionKey(a));
  });

  it('settings parse with defaults and bounds', () => {
    expect(parseSettings(undefined)).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings('garbage')).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings(JSON.stringify({ paused: true, keysPerSec: 10, bytesPerSec: -1, parallelSlots: 5000 }))).toEqual({
      paused: true,
      keysPerSec: 10,
      bytesPerSec: 0,
      parallelSlots: DEFAULT_SETTINGS.parallelSlots,
    });
  });
});

describe('migration helpers', () => {
  it('lists every metric under the redslot_dashboard_migration_ prefix', () => {
    const names = migrationMetricNames();
    expect(names.length).toBeGreaterThanOrEqual(15);
    for (const n of names) expect(n).toMatch(/^redslot_dashboard_migration_[a-z_]+$/);
    expect(names).toContain('redslot_dashboard_migration_keys_moved_total');
    expect(names).toContain('redslot_dashboard_migration_eta_seconds');
  });

  it('throttle: a batch larger than the burst is admitted, then paid for', async () => {
    const t = new Throttle({ keysPerSec: 1000, bytesPerSec: 0 });
    const t0 = performance.now();
    await t.take(1000, 0); // the initial burst
    await t.take(300, 0); // 0.3 s of debt
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(250);
    expect(ms).toBeLessThan(800);
    t.set({ keysPerSec: 0 });
    const t1 = performance.now();
    await t.take(1e9, 1e12);
    expect(performance.now() - t1).toBeLessThan(20);
  });

  it('displays binary keys safely', () => {
    expect(displayKey(Buffer.from([0x61, 0x00, 0xff, 0x5c, 0x0d]))).toBe('a\\x00\\xff\\x5c\\x0d');
    expect(displayKey(Buffer.alloc(300, 0x61))).toMatch(/\.\.\.\(300 bytes\)$/);
  });

  it('encodes commands byte-exact (binary args, utf8 strings, numbers)', () => {
    expect(encode(['SET', Buffer.from([0, 13, 10]), 'é', 5]).toString('latin1')).toBe('*4\r\n$3\r\nSET\r\n$3\r\n\x00\r\n\r\n$2\r\n\xc3\xa9\r\n$1\r\n5\r\n');
  });
});
