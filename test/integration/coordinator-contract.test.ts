/**
 * The coordinator contract (shared/coordinator/types.ts), one suite run against both implementations:
 * the embedded memory store and a real etcd process started on free loopback ports. Each test works under
 * its own key prefix so tests are independent. A final etcd-only block stops and restarts etcd.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import { MemoryCoordinator, MemoryStore } from '../../shared/coordinator/memory.js';
import type { Coordinator, WatchBatch } from '../../shared/coordinator/types.js';
import { RedslotError } from '../../shared/errors.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { startTcpRelay } from '../support/tcp-relay.js';

interface Impl {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  client(): Coordinator;
  /** Makes revisions <= rev unavailable to watches (etcd: compaction; memory: a store with tiny history). */
  compactibleClient(): Promise<{ coord: Coordinator; compact(rev: number): Promise<void> }>;
}

let etcd: EtcdHandle | undefined;
const opened: Coordinator[] = [];
let seq = 0;

const impls: Impl[] = [
  {
    name: 'memory',
    async setup() {},
    async teardown() {},
    client() {
      return track(new MemoryCoordinator(memStore));
    },
    async compactibleClient() {
      const store = new MemoryStore('compact', { historyLimit: 3 });
      return { coord: track(new MemoryCoordinator(store)), compact: async () => {} };
    },
  },
  {
    name: 'etcd',
    async setup() {
      etcd = await startEtcd();
    },
    async teardown() {
      await etcd?.stop();
    },
    client() {
      return track(new EtcdCoordinator([etcd!.endpoint]));
    },
    async compactibleClient() {
      return {
        coord: track(new EtcdCoordinator([etcd!.endpoint])),
        compact: async (rev: number) => {
          execFileSync('etcdctl', ['--endpoints', `http://${etcd!.endpoint}`, 'compact', String(rev)], { stdio: 'pipe' });
        },
      };
    },
  },
];

const memStore = new MemoryStore('contract');

function track<T extends Coordinator>(c: T): T {
  opened.push(c);
  return c;
}

function prefix(): string {
  return `/contract/t${++seq}-${Date.now()}/`;
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function collector() {
  const batches: WatchBatch[] = [];
  const resets: string[] = [];
  return {
    batches,
    resets,
    handlers: { onBatch: (b: WatchBatch) => batches.push(b), onReset: (r: string) => resets.push(r) },
    events: () => batches.flatMap((b) => b.events.map((e) => `${b.revision}:${e.type}:${e.kv.key}=${e.kv.value}`)),
  };
}

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
});

describe.each(impls)('coordinator contract: $name', (impl) => {
  let c: Coordinator;
  beforeAll(async () => {
    await impl.setup();
    c = impl.client();
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((x) => x.close()));
    await impl.teardown();
  });

  it('revisions strictly increase and every write stamps its keys with its revision', async () => {
    const p = prefix();
    const r1 = await c.put(`${p}a`, '1');
    const r2 = await c.put(`${p}a`, '2');
    const r3 = await c.put(`${p}b`, 'x');
    expect(r2).toBeGreaterThan(r1);
    expect(r3).toBeGreaterThan(r2);
    const a = await c.get(`${p}a`);
    expect(a).toMatchObject({ key: `${p}a`, value: '2', createRevision: r1, modRevision: r2, version: 2 });
    expect(a?.lease).toBeUndefined();
    const r4 = await c.delete(`${p}a`);
    expect(r4).toBeGreaterThan(r3);
    expect(await c.get(`${p}a`)).toBeUndefined();
    // Deleting an absent key changes nothing: no new revision.
    expect(await c.delete(`${p}a`)).toBe(r4);
  });

  it('getPrefix returns only keys under the prefix, sorted, at the current revision', async () => {
    const p = prefix();
    await c.put(`${p}b`, 'B');
    await c.put(`${p}a`, 'A');
    await c.put(`${p}c/d`, 'D');
    const rev = await c.put(`${p.slice(0, -1)}x`, 'outside'); // shares the prefix minus the slash
    const res = await c.getPrefix(p);
    expect(res.kvs.map((kv) => [kv.key.slice(p.length), kv.value])).toEqual([['a', 'A'], ['b', 'B'], ['c/d', 'D']]);
    expect(res.revision).toBeGreaterThanOrEqual(rev);
    expect((await c.getPrefix(`${p}nothing/`)).kvs).toEqual([]);
  });

  it('a key put with a lease carries it, and revoke deletes it (watchers see the delete)', async () => {
    const p = prefix();
    const col = collector();
    const start = await c.put(`${p}plain`, 'p');
    const w = await c.watchPrefix(p, start + 1, col.handlers);
    const lease = await c.grantLease(5);
    expect(lease.ttlSeconds).toBe(5);
    expect(Date.now() - lease.lastRenewedAt()).toBeLessThan(2000);
    await c.put(`${p}leased1`, 'l1', { lease: lease.id });
    await c.put(`${p}leased2`, 'l2', { lease: lease.id });
    expect((await c.get(`${p}leased1`))?.lease).toBe(lease.id);
    await lease.revoke();
    expect(await c.get(`${p}leased1`)).toBeUndefined();
    expect(await c.get(`${p}leased2`)).toBeUndefined();
    expect(await c.get(`${p}plain`)).toBeDefined();
    await waitFor(() => col.batches.length >= 3, 5000, 'delete events');
    const del = col.batches[2]!;
    // Both keys of the lease go in ONE revision.
    expect(del.events.map((e) => [e.type, e.kv.key]).sort()).toEqual([['delete', `${p}leased1`], ['delete', `${p}leased2`]]);
    expect(del.events.every((e) => e.kv.modRevision === del.revision)).toBe(true);
    // Writing under a revoked lease fails with a typed error.
    const err = await c.put(`${p}late`, 'x', { lease: lease.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedslotError);
    expect((err as RedslotError).code).toBe('REDSLOT_ERR_LEASE_NOT_FOUND');
    await w.cancel();
  });

  it('a lease that is no longer kept alive expires and its keys are deleted; watchers see it', async () => {
    const p = prefix();
    const col = collector();
    const start = await c.put(`${p}marker`, 'm');
    const w = await c.watchPrefix(p, start + 1, col.handlers);
    const lease = await c.grantLease(2);
    await c.put(`${p}ephemeral`, 'e', { lease: lease.id });
    const kept = await c.grantLease(2);
    await c.put(`${p}kept`, 'k', { lease: kept.id });
    let renewals = 0;
    kept.on('keepaliveSucceeded', () => renewals++);
    lease.release();
    const t0 = Date.now();
    await waitFor(() => col.events().some((e) => e.includes(`delete:${p}ephemeral`)), 10_000, 'lease expiry');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(1000); // not before the TTL (2 s; the check is loose for scheduling)
    expect(await c.get(`${p}ephemeral`)).toBeUndefined();
    // The lease that is still kept alive survived the same time span and was renewed.
    expect(await c.get(`${p}kept`)).toBeDefined();
    expect(renewals).toBeGreaterThan(0);
    expect(Date.now() - kept.lastRenewedAt()).toBeLessThan(2000);
    await kept.revoke();
    await w.cancel();
  });

  it('txn compares on mod, create, version and value; success and failure branches are atomic', async () => {
    const p = prefix();
    const k = `${p}k`;
    const r1 = await c.put(k, 'v1');
    const r2 = await c.put(k, 'v2'); // create r1, mod r2, version 2
    type Case = [Parameters<Coordinator['txn']>[0][number], boolean];
    const cases: Case[] = [
      [{ key: k, target: 'mod', op: '==', value: r2 }, true],
      [{ key: k, target: 'mod', op: '==', value: r1 }, false],
      [{ key: k, target: 'mod', op: '<', value: r2 + 1 }, true],
      [{ key: k, target: 'mod', op: '>', value: r2 }, false],
      [{ key: k, target: 'create', op: '==', value: r1 }, true],
      [{ key: k, target: 'create', op: '!=', value: r1 }, false],
      [{ key: k, target: 'version', op: '==', value: 2 }, true],
      [{ key: k, target: 'version', op: '>', value: 2 }, false],
      [{ key: k, target: 'value', op: '==', value: 'v2' }, true],
      [{ key: k, target: 'value', op: '!=', value: 'v2' }, false],
      [{ key: k, target: 'value', op: '<', value: 'v3' }, true],
      [{ key: `${p}absent`, target: 'create', op: '==', value: 0 }, true],
      [{ key: `${p}absent`, target: 'version', op: '>', value: 0 }, false],
      // A value compare on an absent key always fails (etcd semantics).
      [{ key: `${p}absent`, target: 'value', op: '!=', value: 'anything' }, false],
    ];
    for (const [cmp, expected] of cases) {
      const before = (await c.getPrefix(p)).revision;
      const res = await c.txn([cmp], [], []);
      expect({ cmp, succeeded: res.succeeded }).toEqual({ cmp, succeeded: expected });
      expect(res.revision).toBe(before); // nothing written: no new revision
    }
    // Several compares are ANDed; the success branch applies as one revision.
    const ok = await c.txn(
      [{ key: k, target: 'mod', op: '==', value: r2 }, { key: `${p}new`, target: 'create', op: '==', value: 0 }],
      [{ type: 'put', key: k, value: 'v3' }, { type: 'put', key: `${p}new`, value: 'n' }, { type: 'delete', key: `${p}absent` }],
      [{ type: 'put', key: `${p}failed`, value: 'f' }],
    );
    expect(ok.succeeded).toBe(true);
    expect(ok.revision).toBe(r2 + 1);
    expect((await c.get(k))?.modRevision).toBe(ok.revision);
    expect((await c.get(`${p}new`))?.modRevision).toBe(ok.revision);
    expect(await c.get(`${p}failed`)).toBeUndefined();
    // A stale compare runs the failure branch only.
    const stale = await c.txn(
      [{ key: k, target: 'mod', op: '==', value: r2 }],
      [{ type: 'put', key: k, value: 'lost update' }],
      [{ type: 'put', key: `${p}failed`, value: 'f' }],
    );
    expect(stale.succeeded).toBe(false);
    expect(stale.revision).toBe(ok.revision + 1);
    expect((await c.get(k))?.value).toBe('v3');
    expect((await c.get(`${p}failed`))?.value).toBe('f');
  });

  it('a txn with more than 128 operations in a branch is refused, as etcd does by default (--max-txn-ops)', async () => {
    const p = prefix();
    const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: `${p}${i}`, value: 'x' }));
    const err = await c.txn([], ops(129)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedslotError);
    expect((err as RedslotError).code).toBe('REDSLOT_ERR_COORDINATOR_REQUEST_FAILED');
    expect((err as Error).message).toMatch(/too many operations/);
    expect((await c.getPrefix(p)).kvs).toEqual([]);
    const ok = await c.txn([], ops(128));
    expect(ok.succeeded).toBe(true);
    expect((await c.getPrefix(p)).kvs).toHaveLength(128);
  });

  it('deletePrefix in a txn removes every key under the prefix in one revision', async () => {
    const p = prefix();
    await c.put(`${p}d/1`, '1');
    await c.put(`${p}d/2`, '2');
    await c.put(`${p}keep`, 'k');
    const res = await c.txn([], [{ type: 'deletePrefix', prefix: `${p}d/` }]);
    expect(res.succeeded).toBe(true);
    expect((await c.getPrefix(p)).kvs.map((kv) => kv.key)).toEqual([`${p}keep`]);
    const none = await c.txn([], [{ type: 'deletePrefix', prefix: `${p}d/` }]);
    expect(none.revision).toBe(res.revision);
  });

  it('watch from a past revision replays history then live events, in order, one batch per revision', async () => {
    const p = prefix();
    const other = impl.client(); // a second client of the same store
    const r1 = await c.put(`${p}a`, '1');
    const rTxn = (await c.txn([], [{ type: 'put', key: `${p}b`, value: '1' }, { type: 'put', key: `${p}c`, value: '1' }, { type: 'put', key: '/elsewhere', value: 'x' }])).revision;
    await c.put('/elsewhere', 'y'); // a revision with nothing under the prefix: no batch
    const rDel = await c.delete(`${p}a`);
    const col = collector();
    const w = await other.watchPrefix(p, r1, col.handlers);
    await waitFor(() => col.batches.length >= 3, 5000, 'replay');
    const rLive = (await c.txn([], [{ type: 'put', key: `${p}d`, value: '1' }, { type: 'delete', key: `${p}b` }])).revision;
    await waitFor(() => col.batches.length >= 4, 5000, 'live batch');
    expect(col.batches.map((b) => b.revision)).toEqual([r1, rTxn, rDel, rLive]);
    expect(col.batches[1]!.events.map((e) => e.kv.key)).toEqual([`${p}b`, `${p}c`]);
    expect(col.batches[2]!.events).toEqual([{ type: 'delete', kv: { key: `${p}a`, value: '', createRevision: 0, modRevision: rDel, version: 0 } }]);
    expect(col.batches[3]!.events.map((e) => `${e.type}:${e.kv.key}`)).toEqual([`put:${p}d`, `delete:${p}b`]);
    for (const b of col.batches) for (const e of b.events) expect(e.kv.modRevision).toBe(b.revision);
    expect(col.resets).toEqual([]);
    await w.cancel();
  });

  it('a cancelled watch delivers nothing more', async () => {
    const p = prefix();
    const col = collector();
    const r = await c.put(`${p}x`, '0');
    const w = await c.watchPrefix(p, r + 1, col.handlers);
    await c.put(`${p}x`, '1');
    await waitFor(() => col.batches.length === 1, 5000, 'first event');
    await w.cancel();
    await c.put(`${p}x`, '2');
    await new Promise((res) => setTimeout(res, 300));
    expect(col.events().map((e) => e.split(':').slice(1).join(':'))).toEqual([`put:${p}x=1`]);
  });

  it('a watch from a revision older than the kept history is reset ("compacted"), not silently gapped', async () => {
    const { coord, compact } = await impl.compactibleClient();
    const p = prefix();
    const first = await coord.put(`${p}k`, '0');
    let last = first;
    for (let i = 1; i <= 6; i++) last = await coord.put(`${p}k`, String(i));
    await compact(last - 1);
    const col = collector();
    await coord.watchPrefix(p, first, col.handlers);
    await waitFor(() => col.resets.length === 1, 5000, 'reset');
    expect(col.resets[0]).toMatch(/compact/i);
    expect(col.batches).toEqual([]);
    // A recent revision still replays.
    const ok = collector();
    const w2 = await coord.watchPrefix(p, last, ok.handlers);
    await waitFor(() => ok.batches.length === 1, 5000, 'recent replay');
    expect(ok.batches[0]!.revision).toBe(last);
    await w2.cancel();
  });
});

describe('coordinator contract: etcd outages', () => {
  let h: EtcdHandle;
  beforeAll(async () => {
    h = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((x) => x.close()));
    await h.stop();
  });

  it('etcd stopped ~4 s and restarted: the watch resumes with no missed event and the lease survives', async () => {
    const watcher = track(new EtcdCoordinator([h.endpoint]));
    const writer = track(new EtcdCoordinator([h.endpoint]));
    const p = prefix();
    const r0 = await writer.put(`${p}seq`, '0');
    const col = collector();
    const ups: boolean[] = [];
    await watcher.watchPrefix(p, r0 + 1, { ...col.handlers, onConnection: (up) => ups.push(up) });
    const lease = await watcher.grantLease(10);
    const leasedKey = `${prefix()}leased`; // outside the watched prefix
    await watcher.put(leasedKey, 'alive', { lease: lease.id });
    let failed = 0;
    lease.on('keepaliveFailed', () => failed++);
    let lost = false;
    lease.on('lost', () => (lost = true));
    for (let i = 1; i <= 5; i++) await writer.put(`${p}seq`, String(i));
    await waitFor(() => col.batches.length === 5, 5000, 'events before the outage');

    await h.stopProcess();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    await h.restart();
    // Write a burst as soon as etcd is back, before the watcher has had time to reconnect.
    let wrote = 5;
    const writeDeadline = Date.now() + 10_000;
    while (wrote < 25) {
      try {
        await writer.put(`${p}seq`, String(wrote + 1));
        wrote++;
      } catch (err) {
        if (Date.now() > writeDeadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await waitFor(() => col.batches.length === 25, 10_000, 'all events after the restart');
    const values = col.batches.map((b) => b.events[0]!.kv.value);
    expect(values).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    const revs = col.batches.map((b) => b.revision);
    expect([...revs].sort((a, b) => a - b)).toEqual(revs);
    expect(new Set(revs).size).toBe(25);
    expect(col.resets).toEqual([]);
    expect(ups).toContain(false);
    expect(ups[ups.length - 1]).toBe(true);
    // The lease outlived the outage: keep-alives failed during it, then succeeded; the key is still there.
    await waitFor(() => lease.lastRenewedAt() > stoppedAt, 5000, 'lease renewal after restart');
    expect(failed).toBeGreaterThan(0);
    expect(lost).toBe(false);
    expect((await writer.get(leasedKey))?.value).toBe('alive');
    await lease.revoke();
  });

  it('fault: connection dropped in the middle of a history replay: the reconnect resumes after the last delivered event', async () => {
    // etcd3 alone would resume from the create response's header revision + 1 (the CURRENT revision), losing
    // the rest of the replay; the coordinator resumes from its own last delivered revision.
    const writer = track(new EtcdCoordinator([h.endpoint]));
    const relay = await startTcpRelay(h.clientPort);
    try {
      const watcher = track(new EtcdCoordinator([relay.endpoint]));
      const p = prefix();
      const value = 'v'.repeat(1024);
      const first = await writer.put(`${p}k0`, value);
      const N = 2000;
      for (let i = 1; i < N; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, j) => writer.put(`${p}k${i + j}`, value)));
      }
      const col = collector();
      await watcher.watchPrefix(p, first, col.handlers);
      await relay.close(); // right after the create response: the replay is still streaming
      const deliveredAtCut = col.batches.length;
      await new Promise((r) => setTimeout(r, 300));
      await relay.reopen();
      await waitFor(() => col.batches.length >= N, 20_000, `all ${N} replayed events (have ${col.batches.length})`);
      await new Promise((r) => setTimeout(r, 200));
      const revs = col.batches.map((b) => b.revision);
      expect(revs.length).toBe(N);
      expect(new Set(revs).size).toBe(N);
      expect(revs[0]).toBe(first);
      expect(revs.every((r, i) => i === 0 || r > revs[i - 1]!)).toBe(true);
      expect(new Set(col.batches.map((b) => b.events[0]!.kv.key)).size).toBe(N);
      expect(col.resets).toEqual([]);
      console.log(`replay cut after ${deliveredAtCut} of ${N} events; all ${N} delivered once after the reconnect`);
    } finally {
      await relay.stop();
    }
  });

  it('etcd replaced by an empty one (revision goes backwards): the watch is reset, not left waiting', async () => {
    const coord = track(new EtcdCoordinator([h.endpoint]));
    const p = prefix();
    let rev = 0;
    for (let i = 0; i < 30; i++) rev = await coord.put(`${p}k`, String(i));
    const col = collector();
    await coord.watchPrefix(p, rev + 1, col.handlers);
    await h.stopProcess();
    rmSync(h.dataDir, { recursive: true, force: true });
    await h.restart();
    await waitFor(() => col.resets.length === 1, 15_000, 'reset after etcd was replaced');
    expect(col.resets[0]).toMatch(/replaced/);
    expect((await coord.getPrefix(p)).kvs).toEqual([]);
  });
});
