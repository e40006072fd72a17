/**
 * The split and the groups' replicas, on a real cluster in this process (memory:// coordinator, a real proxy,
 * real redis-servers, a dashboard over HTTP). Group 1 owns every slot and has a replica; group 2 is new and
 * empty, with a replica added by `server add`. The new group's replica must end up a replica of the new master,
 * link up, holding exactly the new group's keys after the purge; the source's replica must be left alone and
 * hold exactly the source's keys. A replica of the new group that is down is warned about, not waited for and
 * reported not attached. The dashboard's failover monitor re-points a detached replica of a group by
 * itself, so the re-pointing done by the split (SplitReplicas) is tested on its own, on bare redis-servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { RedisAdmin } from '../../dashboard/redis/admin.js';
import { attachSettled, replicaWarning, SplitReplicas } from '../../dashboard/migration/split/replicas.js';
import { createLogger, setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { splitOf, SPLIT_ENDED, useSplitCluster, waitSplitStep } from '../support/split.js';
import { until } from '../support/until.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 5000;
const f = useSplitCluster({ spareGroups: 2, barrierTimeoutMs: 3000, split: { retryMs: 200, purgeBatchKeys: 200 }, keys: KEYS });
let sourceReplica: RedisServerHandle;
let targetReplica: RedisServerHandle;
const direct = new Map<string, Redis>();

const conn = (addr: string): Redis => {
  let r = direct.get(addr);
  if (!r) {
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
    r = new Redis({ port, host: '127.0.0.1' });
    direct.set(addr, r);
  }
  return r;
};

async function keysOf(addr: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await conn(addr).scan(cursor, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

async function replication(addr: string): Promise<Record<string, string>> {
  const text = (await conn(addr).info('replication')).split('\r\n');
  return Object.fromEntries(text.filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

async function addServer(gid: number, addr: string): Promise<void> {
  await f.api.request('POST', `/api/v1/groups/${gid}/servers`, { addr });
}

// A replica for each of groups 1 and 2 (an empty server added to a group becomes its master's replica).
beforeAll(async () => {
  sourceReplica = await startRedis();
  targetReplica = await startRedis();
  await addServer(1, sourceReplica.addr);
  await addServer(2, targetReplica.addr);
});

afterAll(async () => {
  for (const r of direct.values()) r.disconnect();
  await sourceReplica?.stop();
  await targetReplica?.stop();
});

describe("split and the groups' replicas", () => {
  it('refuses a replica of the new group that holds keys; previews the replicas', async () => {
    const { c, api } = f;
    const [source, target] = [c.redis[0]!.addr, c.redis[1]!.addr];
    await until('the replicas follow their masters', async () => (await replication(sourceReplica.addr))['master_link_status'] === 'up' && (await replication(targetReplica.addr))['master_link_status'] === 'up');
    expect((await replication(sourceReplica.addr))['master_port']).toBe(source.split(':')[1]);
    expect((await replication(targetReplica.addr))['master_port']).toBe(target.split(':')[1]);

    // Written to behind the dashboard's back (a writable replica keeps its own writes until its next full sync):
    // a split would discard that key, so it is refused.
    const stray = conn(targetReplica.addr);
    await stray.config('SET', 'replica-read-only', 'no');
    await stray.set('stray', '1');
    await expect(api.request('POST', '/api/v1/splits', { source: 1, target: 2 })).rejects.toThrow(`replica ${targetReplica.addr} of group 2 holds 1 key(s); the new group's servers must be empty`);
    await stray.del('stray');
    await stray.config('SET', 'replica-read-only', 'yes');
    const preview = await api.request<{ plan: { targetReplicas: string[] } }>('POST', '/api/v1/splits', { source: 1, target: 2 });
    expect(preview.plan.targetReplicas).toEqual([targetReplica.addr]);
  });

  it("chains the new group's replica during the sync, attaches it after the purge with exactly the new group's keys; the source's replica is untouched", { timeout: 90_000 }, async () => {
    const { c, api, client } = f;
    const [source, target] = [c.redis[0]!.addr, c.redis[1]!.addr];
    const sourceReplId = (await replication(sourceReplica.addr))['master_replid'];
    await api.request('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    // During the sync the replica follows the new master (chained: it resyncs from it once that master replicates
    // the source) and the split's progress shows it; the hold waits until it is in sync, so it has the dataset
    // before the switch (the new master was empty before the split).
    let seen: SplitView['progress'] | undefined;
    let s: SplitView;
    for (;;) {
      s = await splitOf(api, 1);
      if (s.step !== 'syncing') break;
      if (s.progress?.replicas.some((x) => x.addr === targetReplica.addr && x.role === 'slave' && x.master === target)) seen = s.progress;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen, 'the replica was shown following the new master during the sync').toBeDefined();
    const atLock = await replication(targetReplica.addr);
    expect([atLock['master_port'], atLock['master_link_status'], atLock['master_sync_in_progress']]).toEqual([target.split(':')[1], 'up', '0']);
    expect(await conn(targetReplica.addr).dbsize()).toBeGreaterThan(KEYS / 3);
    const done = await waitSplitStep(api, 1, SPLIT_ENDED, 60_000);
    expect(done.step, done.reason).toBe('done');
    expect(done.replicas).toEqual([{ addr: targetReplica.addr, attached: true }]);
    expect(done.warnings ?? []).toEqual([]);

    // The new group's replica: a replica of the new master, link up, exactly the new master's keys, all of the
    // moved slots (the purge's deletions reached it: `attaching` waited for the master's offset).
    const tr = await replication(targetReplica.addr);
    expect([tr['role'], `${tr['master_host']}:${tr['master_port']}`, tr['master_link_status']]).toEqual(['slave', target, 'up']);
    const targetKeys = await keysOf(target);
    expect(await keysOf(targetReplica.addr)).toEqual(targetKeys);
    expect(targetKeys.length).toBeGreaterThan(KEYS * 0.4);
    expect(targetKeys.filter((k) => slotOf(Buffer.from(k)) < 512)).toEqual([]);

    // The source's replica: still following the source (same replication id, no resync), exactly its keys.
    const sr = await replication(sourceReplica.addr);
    expect([sr['role'], `${sr['master_host']}:${sr['master_port']}`, sr['master_link_status'], sr['master_replid']]).toEqual(['slave', source, 'up', sourceReplId]);
    const sourceKeys = await keysOf(source);
    await until('the source replica has the purge', async () => (await conn(sourceReplica.addr).dbsize()) === sourceKeys.length);
    expect(await keysOf(sourceReplica.addr)).toEqual(sourceKeys);
    expect(sourceKeys.length + targetKeys.length).toBe(KEYS);
    expect(sourceKeys.filter((k) => slotOf(Buffer.from(k)) >= 512)).toEqual([]);

    // Writes after the split reach the new group's replica.
    let moved = 0;
    while (slotOf(Buffer.from(`after${moved}`)) < 512) moved++;
    await client.set(`after${moved}`, 'x');
    await until('the write replicated', async () => (await conn(targetReplica.addr).get(`after${moved}`)) === 'x');
  });

  it('a replica of the new group that is down is warned about at preview, not waited for, and reported not attached', { timeout: 60_000 }, async () => {
    const { c, api } = f;
    // Group 3 (empty master) gets a replica that then goes down; group 2 splits slots 768-1023 to it.
    const dead = await startRedis();
    await addServer(3, dead.addr);
    direct.get(dead.addr)?.disconnect();
    direct.delete(dead.addr);
    await dead.stop();
    const preview = await api.request<{ plan: { warnings: string[] } }>('POST', '/api/v1/splits', { source: 2, target: 3, from: 768, to: 1023 });
    expect(preview.plan.warnings.join('\n')).toContain(`replica ${dead.addr} of group 3 cannot be reached`);
    await api.request('POST', '/api/v1/splits', { source: 2, target: 3, from: 768, to: 1023, confirm: true });
    const s = await waitSplitStep(api, 2, SPLIT_ENDED);
    expect(s.step, s.reason).toBe('done');
    expect(s.replicas).toEqual([{ addr: dead.addr, attached: false, detail: expect.stringMatching(/^unreachable: /) }]);
    const [, port] = c.redis[2]!.addr.split(':');
    expect(s.warnings ?? []).toContainEqual(expect.stringMatching(new RegExp(`^replica ${dead.addr} of the new group could not be reached .*; check it and run REPLICAOF 127\\.0\\.0\\.1 ${port} on it$`)));
  });
});

describe('SplitReplicas on bare redis-servers (no dashboard, so no failover monitor re-pointing them)', () => {
  it('re-points a detached replica or one following another server, reports it attached once caught up, and an unreachable one as not attached', async () => {
    const [master, other, detached, elsewhere] = await Promise.all([startRedis(), startRedis(), startRedis(), startRedis()]);
    const admins = new Map<string, RedisAdmin>();
    try {
      const dial = async (addr: string) => {
        let a = admins.get(addr);
        if (!a) admins.set(addr, (a = new RedisAdmin({ addr, connectTimeoutMs: 500 })));
        await a.connect();
        return a;
      };
      await conn(elsewhere.addr).call('REPLICAOF', '127.0.0.1', other.addr.split(':')[1]!);
      await conn(master.addr).set('written-before', '1');
      const r = new SplitReplicas({ dial, log: createLogger() });
      const gone = '127.0.0.1:1';
      const addrs = [detached.addr, elsewhere.addr, gone];
      const offset = async () => Number((await replication(master.addr))['master_repl_offset']);
      let out = await r.attachRound(addrs, master.addr, await offset(), await offset());
      expect(out[2]).toEqual({ addr: gone, attached: false, detail: expect.stringContaining('unreachable') });
      await until('both replicas caught up', async () => {
        out = await r.attachRound(addrs, master.addr, await offset(), await offset());
        return out[0]!.attached && out[1]!.attached;
      });
      expect(out.slice(0, 2)).toEqual([
        { addr: detached.addr, attached: true, detail: `re-pointed to ${master.addr}` },
        { addr: elsewhere.addr, attached: true, detail: `re-pointed to ${master.addr}` },
      ]);
      for (const a of [detached.addr, elsewhere.addr]) {
        const rep = await replication(a);
        expect([rep['role'], rep['master_port'], await conn(a).get('written-before')]).toEqual(['slave', master.addr.split(':')[1], '1']);
      }
      expect(r.progress.map((p) => [p.addr, p.role, p.linkUp])).toEqual([
        [detached.addr, 'slave', true],
        [elsewhere.addr, 'slave', true],
        [gone, 'unknown', false],
      ]);
      expect(r.following(master.addr)).toBe(true);
      // The unreachable one is not waited for; it is reported.
      expect(attachSettled(out)).toBe(true);
      expect(attachSettled([...out, { addr: 'x:1', attached: false, detail: 'link to m:1 down' }])).toBe(false);
      expect(replicaWarning(out[2]!, master.addr, 1000)).toMatch(new RegExp(`^replica ${gone} of the new group could not be reached \\(.+\\); check it and run REPLICAOF 127.0.0.1 ${master.addr.split(':')[1]} on it$`));
    } finally {
      for (const a of admins.values()) a.close();
      for (const x of [master, other, detached, elsewhere]) {
        direct.get(x.addr)?.disconnect();
        direct.delete(x.addr);
      }
      await Promise.all([master, other, detached, elsewhere].map((x) => x.stop()));
    }
  });
});
