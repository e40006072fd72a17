/**
 * Issue 17's proof: a replication-based split of group 1 into the new group 2 on real etcd, redis-servers,
 * 2 proxies and dashboard processes, while client workers run through both proxies (INCR on counters,
 * versioned SET through one proxy and GET through the other). The leading dashboard is killed with SIGKILL
 * inside each step of the split (syncing, locked, promoting, switching, purging, attaching); a standby takes over when
 * the lease expires and resumes from the persisted step. To land a kill inside steps that otherwise last
 * milliseconds, the split's test-only knob `stepDelayMs` pauses 1.5 s at the start of every step. The proxies'
 * hold timeout is raised so the clients held across three takeovers wait instead of getting TRYAGAIN.
 * Afterwards: every acknowledged INCR counted exactly once, no stale read, no client error, every key only in
 * its slot's group, and DBSIZE through a proxy equals the keys written.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import type { SplitRecord } from '../../dashboard/migration/split/record.js';
import { slotRecords, SPLIT_ENDED, useSplitCluster } from '../support/split.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const COUNTERS = 5000;
const WORKERS = 4;
const VERSIONED_PER_WORKER = 200;
const FILLER = 20_000;
const KILL_AT = ['syncing', 'locked', 'promoting', 'switching', 'purging', 'attaching'];

const f = useSplitCluster({
  proxies: 2,
  coordinator: 'etcd',
  dashboards: 2,
  dashboardProcess: true,
  leaseTtlMs: 3000,
  barrierTimeoutMs: 15_000,
  split: { stepDelayMs: 1500, retryMs: 300, lockTimeoutMs: 30_000 },
  proxyOverrides: { guard: { holdTimeout: '90s' } },
  keys: FILLER,
  key: (i) => `fill:${i}`,
  value: () => 'x'.repeat(32),
  startTimeoutMs: 120_000,
});
const acked = new Int32Array(COUNTERS);
const uncertain = new Int32Array(COUNTERS);
const touched = new Set<string>();

interface WorkerStats {
  incrOk: number;
  staleReads: Array<{ key: string; acked: number; read: number }>;
  errors: Map<string, number>;
}

function isFenceRefusal(err: unknown): boolean {
  return /^CLUSTERDOWN .*coordinator/.test((err as Error).message ?? '');
}

async function worker(w: number, stop: () => boolean): Promise<WorkerStats> {
  const opts = { host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 90_000, lazyConnect: true };
  const wr = new Redis({ ...opts, port: f.c.proxies[w % 2]!.port });
  const rd = new Redis({ ...opts, port: f.c.proxies[(w + 1) % 2]!.port });
  await Promise.all([wr.connect(), rd.connect()]);
  const st: WorkerStats = { incrOk: 0, staleReads: [], errors: new Map() };
  const versions = new Int32Array(VERSIONED_PER_WORKER);
  const fail = async (err: unknown) => {
    const kind = isFenceRefusal(err) ? 'fenced' : ((err as Error).message ?? '').split(/[\s:]/)[0] || 'unknown';
    st.errors.set(kind, (st.errors.get(kind) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 20));
  };
  let i = 0;
  while (!stop()) {
    i++;
    const ctr = (i * 7919 + w * 104729) % COUNTERS;
    try {
      await wr.incr(`ctr:${ctr}`);
      acked[ctr]!++;
      touched.add(`ctr:${ctr}`);
      st.incrOk++;
    } catch (err) {
      if (!isFenceRefusal(err)) uncertain[ctr]!++;
      await fail(err);
    }
    const j = i % VERSIONED_PER_WORKER;
    try {
      await wr.set(`ver:${w}:${j}`, String(versions[j]! + 1));
      versions[j]!++;
      touched.add(`ver:${w}:${j}`);
    } catch (err) {
      await fail(err);
    }
    const r = (i * 31) % VERSIONED_PER_WORKER;
    try {
      const v = Number((await rd.get(`ver:${w}:${r}`)) ?? 0);
      if (v < versions[r]!) st.staleReads.push({ key: `ver:${w}:${r}`, acked: versions[r]!, read: v });
    } catch (err) {
      await fail(err);
    }
  }
  wr.disconnect();
  rd.disconnect();
  return st;
}

async function record(): Promise<SplitRecord | undefined> {
  const kv = await f.c.opened.coordinator.get(f.c.opened.paths.split(1));
  return kv ? (JSON.parse(kv.value) as SplitRecord) : undefined;
}

async function leaderRef() {
  const kv = await f.c.opened.coordinator.get(f.c.opened.paths.leader);
  const addr = kv ? (JSON.parse(kv.value) as { addr: string }).addr : '';
  return f.c.dashboards.find((d) => d.url === `http://${addr}`);
}

describe('split by replication under client load, dashboard kill -9 in every step', () => {
  it('loses, duplicates and misplaces nothing; clients see no error and no stale read; DBSIZE exact', async () => {
    const { c, direct } = f;
    let stopping = false;
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w, () => stopping));
    await new Promise((r) => setTimeout(r, 1000));

    const api = await c.leader();
    const res = await api.request<{ started: boolean }>('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    expect(res.started).toBe(true);
    const killed: string[] = [];
    const deadline = Date.now() + 240_000;
    let final: SplitRecord | undefined;
    for (;;) {
      const rec = await record();
      if (rec && SPLIT_ENDED.includes(rec.step)) {
        final = rec;
        break;
      }
      if (rec && KILL_AT.includes(rec.step) && !killed.includes(rec.step)) {
        const victim = await leaderRef();
        if (victim?.proc) {
          killed.push(rec.step);
          await victim.kill9();
          c.dashboards.splice(c.dashboards.indexOf(victim), 1);
          await c.startDashboard();
        }
      }
      if (Date.now() > deadline) throw new Error(`split not finished: ${JSON.stringify(rec)}; killed in ${killed.join(',')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 500));
    stopping = true;
    const stats = await Promise.all(workers);
    const errors = new Map<string, number>();
    for (const s of stats) for (const [k, v] of s.errors) errors.set(k, (errors.get(k) ?? 0) + v);
    const incrs = stats.reduce((a, s) => a + s.incrOk, 0);
    console.log(`split ${final.step}: killed in ${killed.join(', ')}; hold ${final.holdMs} ms (3 takeovers inside); ${incrs} INCRs; errors ${JSON.stringify([...errors])}; purge ${JSON.stringify(final.purge)}`);
    expect(final.step).toBe('done');
    expect(killed).toEqual(KILL_AT);
    expect(incrs).toBeGreaterThan(500);
    const fenced = errors.get('fenced') ?? 0;
    errors.delete('fenced');
    expect([...errors]).toEqual([]);
    expect(fenced).toBeLessThan(incrs * 0.02);
    expect(stats.flatMap((s) => s.staleReads)).toEqual([]);

    // Slots: the upper half with group 2, no action, no marker.
    const owner = new Array<number>(1024).fill(0);
    for (const s of await slotRecords(c)) {
      expect(s.action).toBeUndefined();
      owner[s.id] = s.group;
    }
    for (let s = 0; s < 1024; s++) expect(owner[s]).toBe(s < 512 ? 1 : 2);

    // Every key only on its slot's group; counters exact.
    const seen = new Set<string>();
    const counters = new Map<number, number>();
    for (let gi = 0; gi < 2; gi++) {
      const r = direct[gi]!;
      let cursor = '0';
      do {
        const [next, keys] = await r.scanBuffer(cursor, 'COUNT', 5000);
        cursor = String(next);
        for (const k of keys) {
          expect(owner[slotOf(k)], `${k.toString()} found on group ${gi + 1}`).toBe(gi + 1);
          expect(seen.has(k.toString()), `${k.toString()} on both groups`).toBe(false);
          seen.add(k.toString());
        }
        const ctrs = keys.filter((k) => k.toString().startsWith('ctr:'));
        if (ctrs.length > 0) {
          const vals = await r.mget(...ctrs);
          ctrs.forEach((k, i) => counters.set(Number(k.toString().slice(4)), Number(vals[i])));
        }
      } while (cursor !== '0');
    }
    let mismatches = 0;
    for (let i = 0; i < COUNTERS; i++) {
      const v = counters.get(i) ?? 0;
      if (v < acked[i]! || v > acked[i]! + uncertain[i]!) mismatches++;
    }
    expect(mismatches, 'counters differing from acknowledged INCRs').toBe(0);
    expect(uncertain.reduce((a, b) => a + b, 0)).toBe(0);
    const written = FILLER + touched.size;
    expect(seen.size).toBe(written);
    const r = new Redis({ host: '127.0.0.1', port: c.proxies[1]!.port });
    expect(await r.dbsize()).toBe(written);
    r.disconnect();
  }, 300_000);
});
