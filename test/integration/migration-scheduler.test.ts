/**
 * The migration scheduler on a real cluster in this process: redis-servers (group masters), the memory://
 * coordinator, real proxies following it (lease, watch, ack, hold/drain, migrate-on-access) and a real
 * dashboard with the migration plugin, driven over its HTTP API.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMigrationCluster, type MigrationCluster } from '../../bench/migration/cluster.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import type { SlotRecord, ProxyAck } from '../../shared/model/types.js';
import type { WatchBatch } from '../../shared/coordinator/types.js';
import type { MigrationStatus, JobView } from '../../dashboard/migration/views.js';
import { countPlacedKeys } from '../support/placement.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

let c: MigrationCluster;
let api: DashboardClient;
let client: Redis;
/** Keys written by the scenarios besides the 20k k<i> (the INCR counters). */
let extraKeys = 0;

async function status(): Promise<MigrationStatus> {
  return api.request<MigrationStatus>('GET', '/api/v1/migrations');
}

async function waitJob(id: string, states: string[], timeoutMs = 30_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const j = await api.request<JobView>('GET', `/api/v1/migrations/${id}`);
    if (states.includes(j.state)) return j;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${j.state}: ${JSON.stringify(j.progress)} errors ${JSON.stringify(j.errors)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every key on every master must live in the group its slot names now (and no migration in flight). */
async function checkPlacement(expectedKeys: number): Promise<void> {
  expect(await countPlacedKeys(c)).toBe(expectedKeys);
}

beforeAll(async () => {
  c = await startMigrationCluster({ groups: 2, spareGroups: 1, proxies: 2, coordinator: 'memory', barrierTimeoutMs: 1500, plugin: { retryMs: 300, pollMs: 100 } });
  api = await c.leader();
  client = new Redis({ port: c.proxies[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const p = client.pipeline();
  for (let i = 0; i < 20_000; i++) p.set(`k${i}`, `v${i}`);
  await p.exec();
});

afterAll(async () => {
  client?.disconnect();
  await c?.stop();
});

afterEach(async () => {
  // Leave the cluster idle and unthrottled for the next scenario.
  await api.request('POST', '/api/v1/migrations/resume', {});
  await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 0, bytesPerSec: 0 });
});

describe('migration scheduler (memory coordinator, real proxies and redis-servers)', () => {
  it('rebalances 2 -> 3 under INCR load: every step persisted and only after every proxy acked the previous one', async () => {
    const { coordinator, paths } = c.opened;
    // Record every revision: slot states and proxy acks, to check the barrier ordering afterwards.
    const batches: WatchBatch[] = [];
    const from = (await coordinator.getPrefix(paths.base)).revision + 1;
    const watch = await coordinator.watchPrefix(paths.base, from, { onBatch: (b) => batches.push(b) });
    const proxyIds = (await coordinator.getPrefix(paths.proxies)).kvs.map((kv) => kv.key.slice(paths.proxies.length));
    expect(proxyIds).toHaveLength(2);

    let incrs = 0;
    let stop = false;
    const writer = new Redis({ port: c.proxies[1]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    const load = (async () => {
      while (!stop) {
        await writer.incr(`ctr{${incrs % 300}}`);
        incrs++;
      }
    })();

    const preview = await api.request<{ revision: number; plan: { moves: unknown[]; after: Record<string, number> } }>('POST', '/api/v1/migrations/preview', { mode: 'rebalance' });
    expect(preview.plan.after).toEqual({ 1: 342, 2: 341, 3: 341 });
    // Without confirm a rebalance only previews.
    const dry = await api.request<{ started: boolean }>('POST', '/api/v1/migrations', { mode: 'rebalance' });
    expect(dry.started).toBe(false);
    expect((await status()).slots.pending).toBe(0);
    const started = await api.request<{ started: boolean; job: JobView }>('POST', '/api/v1/migrations', { mode: 'rebalance', confirm: true, ifRevision: preview.revision });
    expect(started.started).toBe(true);
    const job = await waitJob(started.job.id, ['done']);
    stop = true;
    await load;
    writer.disconnect();
    await watch.cancel();

    expect(job.progress.slotsDone).toBe(341);
    expect(job.progress.keysMoved).toBeGreaterThan(5000);
    expect(job.slots.every((s) => s.state === 'done')).toBe(true);
    // INCR through the other proxy: every acknowledged increment is there exactly once.
    let sum = 0;
    for (let i = 0; i < 300; i++) sum += Number((await client.get(`ctr{${i}}`)) ?? 0);
    expect(sum).toBe(incrs);
    extraKeys = Math.min(incrs, 300);
    console.log(`${incrs} INCRs during the rebalance`);
    await checkPlacement(20_000 + extraKeys);

    // Barrier order: for each moved slot, every state change came at a revision after both proxies acked
    // the revision of the previous state.
    const acked = new Map<string, Array<{ at: number; rev: number }>>(proxyIds.map((id) => [id, []]));
    const slotSteps = new Map<number, Array<{ rev: number; state: string }>>();
    for (const b of batches) {
      for (const ev of b.events) {
        if (ev.kv.key.startsWith(paths.acks) && ev.type === 'put') {
          acked.get(ev.kv.key.slice(paths.acks.length))?.push({ at: b.revision, rev: (JSON.parse(ev.kv.value) as ProxyAck).revision });
        } else if (ev.kv.key.startsWith(paths.slots) && ev.type === 'put') {
          const s = JSON.parse(ev.kv.value) as SlotRecord;
          const list = slotSteps.get(s.id) ?? [];
          list.push({ rev: b.revision, state: s.action ? s.action.state : 'cleared' });
          slotSteps.set(s.id, list);
        }
      }
    }
    const ackedBy = (id: string, rev: number, before: number) => acked.get(id)!.some((a) => a.rev >= rev && a.at < before);
    let checked = 0;
    for (const [slot, steps] of slotSteps) {
      expect(steps.map((s) => s.state), `slot ${slot}`).toEqual(['pending', 'preparing', 'prepared', 'migrating', 'finished', 'cleared']);
      for (let i = 1; i < steps.length; i++) {
        for (const id of proxyIds) {
          // pending -> preparing needs no barrier in Codis either, but we wait anyway: check every step.
          expect(ackedBy(id, steps[i - 1]!.rev, steps[i]!.rev), `slot ${slot} ${steps[i]!.state} before ${id} acked ${steps[i - 1]!.state}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(341 * 5 * 2);
    const m = await (await fetch(`${c.dashboards[0]!.url}/metrics`)).text();
    expect(m).toMatch(/redslot_dashboard_migration_keys_moved_total \d+/);
    expect(m).toMatch(/redslot_dashboard_migration_slot_transitions_total\{to="cleared"\} 341/);
  });

  it('abort mid-migration moves already-moved keys back; slots end at their source', async () => {
    // Slow the mover down so the abort lands while keys are on both sides.
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 3000 });
    const before = await api.slots();
    const src = before.slots[0]!.group;
    const dst = src === 3 ? 2 : 3;
    const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from: 0, to: 199, group: dst });
    const id = started.job.id;
    const deadline = Date.now() + 20_000;
    while ((await api.request<JobView>('GET', `/api/v1/migrations/${id}`)).progress.keysMoved < 1000) {
      if (Date.now() > deadline) throw new Error('mover did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Clients keep reading the moving keys through a proxy during the abort.
    const keysInRange = Array.from({ length: 20_000 }, (_, i) => `k${i}`).filter((k) => slotOf(Buffer.from(k)) < 200);
    const res = await api.request<{ reversed: number[]; cancelled: number[] }>('POST', `/api/v1/migrations/${id}/abort`, {});
    expect(res.reversed.length + res.cancelled.length).toBe(200);
    expect(res.reversed.length).toBeGreaterThan(0);
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 0 });
    for (const k of keysInRange.slice(0, 200)) expect(await client.get(k)).toBe(`v${k.slice(1)}`);
    const j = await waitJob(id, ['aborted']);
    expect(j.slots.every((s) => s.state === 'returned')).toBe(true);
    const after = await api.slots();
    for (let s = 0; s < 200; s++) expect(after.slots[s]!.group).toBe(before.slots[s]!.group);
    await checkPlacement(20_000 + extraKeys);
    for (const k of keysInRange) expect(await client.get(k)).toBe(`v${k.slice(1)}`);
  });

  it('pause holds pending slots and the mover; resume finishes; throttle is persisted', async () => {
    await api.request('POST', '/api/v1/migrations/pause', {});
    const t = await api.request<{ keysPerSec: number; paused: boolean }>('PUT', '/api/v1/migrations/throttle', { keysPerSec: 50_000, parallelSlots: 64 });
    expect(t).toMatchObject({ keysPerSec: 50_000, paused: true });
    const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'some', count: 100, from: 1, to: 3 });
    await new Promise((r) => setTimeout(r, 500));
    let s = await status();
    expect(s.paused).toBe(true);
    expect(s.slots.pending).toBe(100);
    expect(s.throttle.keysPerSec).toBe(50_000);
    expect(s.parallelSlots).toBe(64);
    const kv = await c.opened.coordinator.get(c.opened.paths.setting('migration'));
    expect(JSON.parse(kv!.value)).toMatchObject({ paused: true, keysPerSec: 50_000, parallelSlots: 64 });
    await api.request('POST', '/api/v1/migrations/resume', {});
    // parallelSlots 64: never more than 64 slots past pending at once.
    let maxStarted = 0;
    for (;;) {
      s = await status();
      maxStarted = Math.max(maxStarted, s.slots.preparing + s.slots.prepared + s.slots.migrating + s.slots.finished);
      const j = s.jobs.find((x) => x.id === started.job.id)!;
      if (j.state === 'done') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(maxStarted).toBeLessThanOrEqual(64);
    expect(maxStarted).toBeGreaterThan(0);
    await api.request('PUT', '/api/v1/migrations/throttle', { parallelSlots: 512 });
    await checkPlacement(20_000 + extraKeys);
  });

  it('BUSYKEY stops the slot and shows in status; once the operator removes the duplicate, the job finishes', async () => {
    const slots = await api.slots();
    // Pick a key owned by group 1 and plant a different value under the same name on group 2's master.
    const k = Array.from({ length: 20_000 }, (_, i) => `k${i}`).find((x) => slots.slots[slotOf(Buffer.from(x))]!.group === 1)!;
    const slot = slotOf(Buffer.from(k));
    const g2 = new Redis({ port: c.redis[1]!.port, host: '127.0.0.1' });
    await g2.set(k, 'planted');
    const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from: slot, to: slot, group: 2 });
    const deadline = Date.now() + 20_000;
    let s = await status();
    while (!s.errors.some((e) => e.slot === slot)) {
      if (Date.now() > deadline) throw new Error('BUSYKEY not reported');
      await new Promise((r) => setTimeout(r, 50));
      s = await status();
    }
    const err = s.errors.find((e) => e.slot === slot)!;
    expect(err.code).toBe('REDSLOT_ERR_MIGRATION_BUSYKEY');
    expect(err.message).toContain(k);
    expect(s.jobs.find((j) => j.id === started.job.id)!.errors[0]!.code).toBe('REDSLOT_ERR_MIGRATION_BUSYKEY');
    expect(s.slots.migrating).toBe(1);
    expect(await g2.get(k)).toBe('planted');
    // Source first: the key is still on the source, so commands run there and never see the target's copy.
    expect(await client.get(k)).toBe(`v${k.slice(1)}`);
    // A command on the MIGRATE path (TTL: Lua could round its reply) hits the same BUSYKEY: the client gets
    // an error, nothing is overwritten.
    await expect(client.ttl(k)).rejects.toThrow(/BUSYKEY/);
    expect(await g2.get(k)).toBe('planted');
    await g2.del(k);
    const j = await waitJob(started.job.id, ['done']);
    expect(j.progress.slotsDone).toBe(1);
    expect(await client.get(k)).toBe(`v${k.slice(1)}`);
    g2.disconnect();
    await checkPlacement(20_000 + extraKeys);
  });

  it('a second dashboard that takes over mid-migration resumes from the persisted state and finishes', async () => {
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 4000 });
    const standby = await c.startDashboard();
    const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'some', count: 150, from: 2, to: 3 });
    const deadline = Date.now() + 20_000;
    while ((await status()).slots.migrating === 0) {
      if (Date.now() > deadline) throw new Error('nothing reached migrating');
      await new Promise((r) => setTimeout(r, 20));
    }
    // The leader goes away (graceful here; the e2e test kills -9 a dashboard process).
    const old = c.dashboards[0]!;
    await old.close();
    c.dashboards.splice(0, 1);
    api = await c.leader();
    expect(api.baseUrl).toBe(standby.url);
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 0 });
    const j = await waitJob(started.job.id, ['done']);
    expect(j.progress.slotsDone).toBe(150);
    await checkPlacement(20_000 + extraKeys);
  });

  it('fault: a registered proxy that never acknowledges stalls the steps (status names it); once its lease is gone they proceed', async () => {
    // A registration exactly like a proxy's (leased record) whose owner never acks: a hung proxy.
    const { coordinator, paths } = c.opened;
    const lease = await coordinator.grantLease(2);
    await coordinator.put(paths.proxy('hung-proxy'), JSON.stringify({ id: 'hung-proxy', addr: '127.0.0.1:1', adminAddr: '', version: 'x', startedAt: new Date().toISOString(), pid: 1, hostname: 'h' }), { lease: lease.id });
    const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'some', count: 3, from: 1, to: 2 });
    const deadline = Date.now() + 10_000;
    let s = await status();
    while (!s.schedulerError) {
      if (Date.now() > deadline) throw new Error('no scheduler error reported');
      await new Promise((r) => setTimeout(r, 50));
      s = await status();
    }
    expect(s.schedulerError.code).toBe('REDSLOT_ERR_BARRIER_TIMEOUT');
    expect(s.schedulerError.message).toContain('hung-proxy');
    // Nothing past the first step while the hung proxy holds a live lease.
    expect(s.slots.prepared + s.slots.migrating + s.slots.finished).toBe(0);
    // Its lease expires (the proxy would have fenced itself by then): the barrier stops waiting for it.
    lease.release();
    const j = await waitJob(started.job.id, ['done'], 20_000);
    expect(j.progress.slotsDone).toBe(3);
    expect((await status()).schedulerError).toBeUndefined();
    await checkPlacement(20_000 + extraKeys);
  });

  it('rebalance preview with weights from each master\'s maxmemory', async () => {
    const admins = c.redis.map((r) => new Redis({ port: r.port, host: '127.0.0.1' }));
    try {
      await admins[0]!.config('SET', 'maxmemory', String(100 * 1024 * 1024));
      await admins[1]!.config('SET', 'maxmemory', String(300 * 1024 * 1024));
      const p = await api.request<{ plan: { after: Record<string, number> } }>('POST', '/api/v1/migrations/preview', { mode: 'rebalance', groups: [{ id: 1 }, { id: 2 }, { id: 3, weight: 0 }], weights: 'maxmemory' });
      expect(p.plan.after).toEqual({ 1: 256, 2: 768 });
      try {
        await api.request('POST', '/api/v1/migrations/preview', { mode: 'rebalance', weights: 'maxmemory' });
        throw new Error('expected a refusal: group 3 has no maxmemory');
      } catch (e) {
        expect((e as { code: string }).code).toBe('REDSLOT_ERR_MIGRATION_PLAN_INVALID');
        expect((e as Error).message).toMatch(/maxmemory/);
      }
    } finally {
      await Promise.all(admins.map((a) => a.config('SET', 'maxmemory', '0')));
      for (const a of admins) a.disconnect();
    }
  });

  it('refuses bad requests with typed errors', async () => {
    const bad = async (body: unknown) => {
      try {
        await api.request('POST', '/api/v1/migrations', body);
        return null;
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(await bad({ mode: 'range', from: 5, to: 1, group: 2 })).toBe('REDSLOT_ERR_MIGRATION_PLAN_INVALID');
    expect(await bad({ mode: 'range', from: 0, to: 1, group: 77 })).toBe('REDSLOT_ERR_MIGRATION_PLAN_INVALID');
    expect(await bad({ mode: 'some', count: 2000, from: 1, to: 2 })).toBe('REDSLOT_ERR_BAD_REQUEST');
    expect(await bad({ mode: 'teleport' })).toBe('REDSLOT_ERR_BAD_REQUEST');
    try {
      await api.request('POST', '/api/v1/migrations/nope/abort', {});
      throw new Error('expected 404');
    } catch (e) {
      expect((e as { code: string }).code).toBe('REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND');
    }
  });
});
