/**
 * SCAN while the topology changes under it (issue 7): 3 real groups whose slot table lives in a memory://
 * coordinator the proxy follows; the test moves keys with MIGRATE on the backends and then rewrites the slot
 * records, as the migration engine does, in the middle of a scan. Every key that exists for the whole scan
 * must come back at least once:
 * - slots moved from a group not scanned yet to one already scanned (the case a plain group-by-group scan
 *   misses): found by the rescan pass;
 * - a group removed mid-scan (its slots moved away first);
 * - a slot still migrating when the first pass ends: SCAN waits for it to settle, then rescans.
 * With no change during the scan the rescan pass does not happen (exactly once).
 */
import { Redis } from 'ioredis';
import type { RedisClientType } from 'redis';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor } from '../../proxy/router/requests/scan.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { sleep, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

const N = 20_000;
let c: Cluster;
let io: Redis;
let nr: RedisClientType;
/** Group id owning each slot, as this test set it. */
const owner = new Array<number>(1024);

useProxyCluster({ groups: 3, coordinator: true, clients: 'both' }, (s) => ({ cluster: c, io, nr } = s));

beforeAll(async () => {
  for (let s = 0; s < 1024; s++) owner[s] = c.groupOfSlot(s) + 1;
  for (let i = 0; i < N; i += 1000) {
    const args: string[] = [];
    for (let k = i; k < i + 1000; k++) args.push(`t:${k}`, '1');
    await io.mset(...args);
  }
});

function direct(gid: number): Redis {
  return c.direct(gid - 1);
}

/** Moves `slots` (all owned by `from`) to group `to`: MIGRATE their keys, then one slot-table write. */
async function moveSlots(slots: number[], from: number, to: number, extra: SlotRecord[] = []): Promise<void> {
  const want = new Set(slots);
  const src = direct(from);
  const dst = c.groups[to - 1]!;
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, ks] = await src.scan(cursor, 'COUNT', 2000);
    cursor = next;
    for (const k of ks) if (want.has(slotOf(Buffer.from(k)))) keys.push(k);
  } while (cursor !== '0');
  for (let i = 0; i < keys.length; i += 500) {
    expect(await src.call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', 'KEYS', ...keys.slice(i, i + 500))).toBe('OK');
  }
  const records: SlotRecord[] = [...slots.map((id) => ({ id, group: to })), ...extra];
  for (let i = 0; i < records.length; i += 100) await c.putSlots(records.slice(i, i + 100)); // txn op limit
  for (const s of slots) owner[s] = to;
}

function slotsOf(gid: number, count: number): number[] {
  const out: number[] = [];
  for (let s = 1023; s >= 0 && out.length < count; s--) if (owner[s] === gid) out.push(s);
  return out;
}

interface ScanRun {
  seen: Uint16Array;
  /** Keys seen in the rescan pass (phase 1). */
  rescanned: Set<number>;
  calls: number;
}

/** Scans to the end; `during(cursor)` runs after each call and may change the topology. */
async function scanAll(count: number, during: (c: { group: number; phase: number } | null, calls: number) => Promise<void>): Promise<ScanRun> {
  const seen = new Uint16Array(N);
  const rescanned = new Set<number>();
  let cursor = '0';
  let phase = 0;
  let calls = 0;
  do {
    const [next, keys] = await io.scan(cursor, 'COUNT', count);
    calls++;
    for (const k of keys) {
      const i = Number(k.slice(2));
      seen[i]!++;
      if (phase === 1) rescanned.add(i);
    }
    cursor = next;
    const d = decodeCursor(Buffer.from(next));
    const cur = d === null || d === 'start' ? null : d;
    if (cur !== null) phase = cur.phase;
    await during(cur, calls);
  } while (cursor !== '0');
  return { seen, rescanned, calls };
}

function missing(run: ScanRun): number[] {
  const out: number[] = [];
  for (let i = 0; i < N; i++) if (run.seen[i] === 0) out.push(i);
  return out;
}

describe('SCAN while the slot table changes', () => {
  it('no change during the scan: exactly once, no rescan pass', async () => {
    const run = await scanAll(500, async () => {});
    expect(missing(run)).toEqual([]);
    expect(Math.max(...run.seen)).toBe(1);
    expect(run.rescanned.size).toBe(0);
  });

  it('slots moved from a group not scanned yet to one already scanned: found again by the rescan pass', async () => {
    const moved = slotsOf(3, 40);
    let done = false;
    const run = await scanAll(500, async (cur) => {
      // Group 1 is done and group 2 has started: move 40 of group 3's slots to group 1.
      if (!done && cur !== null && cur.group === 2) {
        done = true;
        await moveSlots(moved, 3, 1);
      }
    });
    expect(done).toBe(true);
    expect(missing(run)).toEqual([]);
    // The moved keys could only come from the rescan (group 1 was scanned before they arrived there).
    const movedKeys = [...Array(N).keys()].filter((i) => moved.includes(slotOf(Buffer.from(`t:${i}`))));
    expect(movedKeys.length).toBeGreaterThan(400);
    for (const i of movedKeys) expect(run.rescanned.has(i), `t:${i}`).toBe(true);
    // Only the moved slots are rescanned.
    for (const i of run.rescanned) expect(moved).toContain(slotOf(Buffer.from(`t:${i}`)));
    await moveSlots(moved, 1, 3);
  });

  it('a group removed mid-scan (its slots moved away first), and one added: every key at least once', async () => {
    const g3 = slotsOf(3, 1024);
    const { coord, paths } = c.coordinator!;
    let step = 0;
    const run = await scanAll(300, async (cur) => {
      if (step === 0 && cur !== null && cur.group === 1) {
        step = 1;
        // Drain group 3 into groups 1 (already being scanned) and 2, then remove it.
        await moveSlots(g3.slice(0, 150), 3, 1);
        await moveSlots(g3.slice(150), 3, 2);
        const rev = await coord.delete(paths.group(3));
        while (c.proxy.runtime.appliedRevision() < rev) await sleep(5);
      }
    });
    expect(step).toBe(1);
    expect(missing(run)).toEqual([]);
    // Put group 3 back with its slots (a group added: visited in the next scan's first pass).
    const rec: GroupRecord = { id: 3, weight: 1, servers: [{ addr: c.groups[2]!.addr, role: 'master' }] };
    const rev = await coord.put(paths.group(3), JSON.stringify(rec));
    while (c.proxy.runtime.appliedRevision() < rev) await sleep(5);
    await moveSlots(g3.slice(0, 150), 1, 3);
    await moveSlots(g3.slice(150), 2, 3);
    const again = await scanAll(1000, async () => {});
    expect(missing(again)).toEqual([]);
  });

  it('a slot still migrating when the first pass ends: SCAN waits for it to finish, then rescans it (node-redis)', async () => {
    const slot = slotsOf(3, 1)[0]!;
    const slotKeys = [...Array(N).keys()].filter((i) => slotOf(Buffer.from(`t:${i}`)) === slot).map((i) => `t:${i}`);
    expect(slotKeys.length).toBeGreaterThan(5);
    // The slot starts migrating 3 -> 1 (proxies move touched keys; the test plays the mover).
    await c.putSlots([{ id: slot, group: 3, action: { state: 'migrating', target: 1, index: 1 } }]);
    const dst = c.groups[0]!;
    const half = slotKeys.slice(0, Math.floor(slotKeys.length / 2));
    expect(await direct(3).call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', 'KEYS', ...half)).toBe('OK');
    // Every key stays readable through the proxy meanwhile.
    expect(await io.get(slotKeys.at(-1)!)).toBe('1');
    const seen = new Set<string>();
    let cursor = '0';
    let finished = false;
    let settledAtRescan: boolean | null = null;
    let finisher: Promise<void> | null = null;
    do {
      const r = await nr.scan(cursor, { COUNT: 1000 });
      for (const k of r.keys) seen.add(k);
      cursor = String(r.cursor);
      const d = decodeCursor(Buffer.from(cursor));
      if (d !== null && d !== 'start' && d.group === 3 && d.phase === 0 && finisher === null) {
        // The first pass reached the last group: the mover finishes the slot 300 ms from now.
        finisher = (async () => {
          await sleep(300);
          const rest = slotKeys.filter((k) => !half.includes(k));
          await direct(3).call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', 'KEYS', ...rest);
          finished = true; // the slot's migration ends with this write
          await c.putSlots([{ id: slot, group: 1 }]);
          owner[slot] = 1;
        })();
      }
      // The call that ends the first pass answers only once the migrating slot has settled.
      if (d !== null && d !== 'start' && d.phase === 1 && settledAtRescan === null) settledAtRescan = finished;
    } while (cursor !== '0');
    await finisher;
    expect(settledAtRescan).toBe(true);
    const metrics = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    expect(Number(/^redslot_proxy_scan_settle_waits_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^redslot_proxy_scan_rescans_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < N; i++) expect(seen.has(`t:${i}`), `t:${i}`).toBe(true);
    await moveSlots([slot], 1, 3);
  });

  it('a slot migrating forward (to a group visited later) needs no wait: its keys are on the source or reach the target before its rescan', async () => {
    const slot = slotsOf(1, 1)[0]!;
    const slotKeys = [...Array(N).keys()].filter((i) => slotOf(Buffer.from(`t:${i}`)) === slot).map((i) => `t:${i}`);
    await c.putSlots([{ id: slot, group: 1, action: { state: 'migrating', target: 3, index: 2 } }]);
    const dst = c.groups[2]!;
    const half = slotKeys.slice(0, Math.floor(slotKeys.length / 2));
    expect(await direct(1).call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', 'KEYS', ...half)).toBe('OK');
    let movedRest = false;
    let migratingAtRescan = false;
    const run = await scanAll(1000, async (cur) => {
      if (cur === null || cur.phase !== 1) return;
      if (cur.group === 1) migratingAtRescan = c.proxy.runtime.table.routes[slot]!.migrateFrom !== null;
      if (cur.group === 2 && !movedRest) {
        // Between the rescans of the source (1) and the target (3), the rest of the slot moves.
        movedRest = true;
        await direct(1).call('MIGRATE', '127.0.0.1', String(dst.port), '', '0', '5000', 'KEYS', ...slotKeys.filter((k) => !half.includes(k)));
      }
    });
    expect(migratingAtRescan).toBe(true);
    expect(movedRest).toBe(true);
    expect(missing(run)).toEqual([]);
    await c.putSlots([{ id: slot, group: 3 }]);
    owner[slot] = 3;
    await moveSlots([slot], 3, 1);
  });
});
