/**
 * The dashboard against real redis-servers (memory coordinator, inject()):
 * - dashboard/redis/admin.ts: INFO/ROLE parsing, pipelining, binary SCAN, AUTH, error replies;
 * - server add: first server must be a master; a replica of the group master is accepted as is; an empty
 *   stand-alone master is turned into a replica with REPLICAOF; a master holding keys, a replica of another
 *   master, and an unreachable address are refused;
 * - slot assignment of owned slots only when the owner holds no keys of them;
 * - the overview with real INFO numbers;
 * - master promotion of a real master+replica pair, with a real proxy coordinator follower acking every
 *   revision (it must see the group held with `promoting: prepared` before the switch);
 * - promotion when the old master is dead (force) re-points the survivors and warns about the old master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFollowerDriver } from '../../proxy/topology/follower.js';
import { RedisAdmin, parseInfo, withRedisAdmin } from '../../dashboard/redis/admin.js';
import { slotOfString } from '../../shared/slot.js';
import { freePort } from '../support/free-port.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { AUTH, makeDashboard, uniqueCluster, waitFor, type Harness } from '../unit/dashboard-harness.js';
import { RecordingRuntime } from './follower-support.js';

type Json = Record<string, any>;
async function call(h: Harness, method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await h.app.inject({ method: method as 'GET', url, payload: body as Json | undefined, headers: AUTH });
  return { status: r.statusCode, body: r.body ? (JSON.parse(r.body) as Json) : {} };
}

async function roleOf(addr: string): Promise<Awaited<ReturnType<RedisAdmin['role']>>> {
  return withRedisAdmin({ addr }, (c) => c.role());
}

/** A key name that hashes to `slot`. */
function keyInSlot(slot: number, prefix = 'k'): string {
  for (let i = 0; ; i++) if (slotOfString(`${prefix}${i}`) === slot) return `${prefix}${i}`;
}

const servers: RedisServerHandle[] = [];
async function redis(extra: string[] = []): Promise<RedisServerHandle> {
  // No 5 s wait before a full sync to a new replica (redis' default diskless delay).
  const r = await startRedis(['--repl-diskless-sync-delay', '0', ...extra]);
  servers.push(r);
  return r;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('redis-admin', () => {
  let plain: RedisServerHandle;
  let secured: RedisServerHandle;
  beforeAll(async () => {
    [plain, secured] = await Promise.all([redis(), redis(['--requirepass', 'pw-123'])]);
  });

  it('pipelines commands in order, parses INFO and ROLE, scans binary keys, returns error replies', async () => {
    const c = new RedisAdmin({ addr: plain.addr });
    try {
      const bin = Buffer.from([0xff, 0x00, 0x7b, 0x41, 0x7d]);
      const replies = await Promise.all([c.call('SET', 'a', '1'), c.call('SET', bin, 'x'), c.call('INCR', 'a'), c.call('GET', 'a'), c.dbsize()]);
      expect(replies).toEqual(['OK', 'OK', 2, '2', 2]);
      const info = await c.info();
      expect(info.role).toBe('master');
      expect(info.keyspace[0]).toEqual({ keys: 2, expires: 0 });
      expect(info.keys).toBe(2);
      expect(info.usedMemory).toBeGreaterThan(0);
      expect(info.redisVersion).toMatch(/^\d+\./);
      expect(await c.role()).toEqual({ role: 'master', replOffset: expect.any(Number), replicas: [] });
      const keys: Buffer[] = [];
      let cursor = '0';
      do {
        const step = await c.scan(cursor, 10);
        cursor = step.cursor;
        keys.push(...step.keys);
      } while (cursor !== '0');
      expect(keys.some((k) => k.equals(bin))).toBe(true);
      await expect(c.call('INCR', 'nope', 'extra')).rejects.toMatchObject({ code: 'REDSLOT_ERR_REDIS_REPLY' });
      expect(await c.callBuffers('NOSUCHCOMMAND')).toBeInstanceOf(Error);
      expect(await c.call('PING')).toBe('PONG'); // connection still in sync after the errors
    } finally {
      c.close();
    }
  });

  it('authenticates with a password, and refuses a wrong one', async () => {
    expect(await withRedisAdmin({ addr: secured.addr, password: 'pw-123' }, (c) => c.call('PING'))).toBe('PONG');
    await expect(withRedisAdmin({ addr: secured.addr, password: 'wrong' }, (c) => c.call('PING'))).rejects.toMatchObject({ code: 'REDSLOT_ERR_REDIS_REPLY' });
    await expect(withRedisAdmin({ addr: secured.addr }, (c) => c.call('DBSIZE'))).rejects.toThrow(/NOAUTH/);
  });

  it('reports an unreachable address and reconnects after the server went away and came back on the client', async () => {
    const port = await freePort();
    await expect(withRedisAdmin({ addr: `127.0.0.1:${port}` }, (c) => c.ping())).rejects.toMatchObject({ code: 'REDSLOT_ERR_REDIS_UNREACHABLE' });
    const c = new RedisAdmin({ addr: plain.addr });
    try {
      await c.ping();
      await c.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'no').catch(() => undefined);
      await waitFor(() => !c.connected, 2000, 'client to notice the kill');
      await c.ping(); // reconnects
    } finally {
      c.close();
    }
  });

  it('parseInfo reads replica fields', () => {
    const info = parseInfo('# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:7000\r\nmaster_link_status:up\r\nslave_repl_offset:42\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb3:keys=2,expires=0,avg_ttl=0\r\n');
    expect(info).toMatchObject({ role: 'slave', masterHost: '127.0.0.1', masterPort: 7000, masterLinkStatus: 'up', slaveReplOffset: 42, keys: 5 });
    expect(info.keyspace[3]).toEqual({ keys: 2, expires: 0 });
  });
});

describe('servers, slots and overview on real redis-servers', () => {
  let h: Harness;
  let m1: RedisServerHandle;
  let r1: RedisServerHandle;
  let e1: RedisServerHandle;
  let k1: RedisServerHandle;
  beforeAll(async () => {
    [m1, e1, k1] = await Promise.all([redis(), redis(), redis()]);
    r1 = await redis(['--replicaof', '127.0.0.1', String(m1.port)]);
    await withRedisAdmin({ addr: k1.addr }, (c) => c.call('SET', 'precious', 'data'));
    h = await makeDashboard(uniqueCluster('servers'), { barrierTimeoutMs: 5000 });
    await call(h, 'POST', '/api/v1/groups', { id: 1 });
    await call(h, 'POST', '/api/v1/groups', { id: 2 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a replica as the first server of a group', async () => {
    await waitFor(async () => (await roleOf(r1.addr)).role === 'replica', 5000, 'r1 to be a replica');
    const r = await call(h, 'POST', '/api/v1/groups/1/servers', { addr: r1.addr });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('REDSLOT_ERR_SERVER_ROLE');
    expect(r.body.error.message).toContain(`the first server of group 1 must be a master, but ROLE says it replicates 127.0.0.1:${m1.port}`);
  });

  it('adds the master, then its existing replica as is', async () => {
    const a = await call(h, 'POST', '/api/v1/groups/1/servers', { addr: m1.addr });
    expect(a.status).toBe(201);
    expect(a.body.detail).toBe('added as the group master');
    const b = await call(h, 'POST', '/api/v1/groups/1/servers', { addr: r1.addr });
    expect(b.status).toBe(201);
    expect(b.body.detail).toContain(`already replicating ${m1.addr}`);
    expect(b.body.group.servers).toEqual([
      { addr: m1.addr, role: 'master' },
      { addr: r1.addr, role: 'replica' },
    ]);
  });

  it('refuses a master that holds keys (REPLICAOF would discard them) and leaves it untouched', async () => {
    const r = await call(h, 'POST', '/api/v1/groups/1/servers', { addr: k1.addr });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('is a master holding 1 keys');
    expect((await roleOf(k1.addr)).role).toBe('master');
    expect(await withRedisAdmin({ addr: k1.addr }, (c) => c.call('GET', 'precious'))).toBe('data');
  });

  it('refuses a replica of another master', async () => {
    await call(h, 'POST', '/api/v1/groups/2/servers', { addr: k1.addr });
    const other = await redis(['--replicaof', '127.0.0.1', String(m1.port)]);
    await waitFor(async () => (await roleOf(other.addr)).role === 'replica', 5000, 'replica');
    const r = await call(h, 'POST', '/api/v1/groups/2/servers', { addr: other.addr });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain(`it replicates 127.0.0.1:${m1.port}, not group 2's master ${k1.addr}`);
  });

  it('turns an empty stand-alone master into a replica with REPLICAOF', async () => {
    const r = await call(h, 'POST', '/api/v1/groups/1/servers', { addr: e1.addr });
    expect(r.status).toBe(201);
    expect(r.body.detail).toBe(`added as a replica: issued REPLICAOF ${m1.addr}`);
    const role = await roleOf(e1.addr);
    expect(role).toMatchObject({ role: 'replica', master: m1.addr });
    const audit = (await call(h, 'GET', '/api/v1/audit?limit=1')).body.entries[0];
    expect(audit).toMatchObject({ action: 'server.add', result: 'ok', detail: r.body.detail });
  });

  it('assigns owned slots only when their group holds no keys of them', async () => {
    expect((await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 99, group: 1 })).status).toBe(200);
    await withRedisAdmin({ addr: m1.addr }, (c) => c.call('SET', keyInSlot(5), 'v'));
    await withRedisAdmin({ addr: m1.addr }, async (c) => {
      await c.call('SELECT', 3);
      await c.call('SET', keyInSlot(7), 'v');
    });
    const refused = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 9, group: 2 });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe('slot assignment refused: group 1 holds 2 keys in slots 5,7; moving them needs a migration');
    const ok = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 50, to: 59, group: 2 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ assigned: 10, warnings: [] });
    const groups = (await call(h, 'GET', '/api/v1/groups')).body.groups as Json[];
    expect(groups.map((g) => g.slotCount)).toEqual([90, 10]);
  });

  it('overview: per-server role, link, keys and memory from INFO, totals per group', async () => {
    await waitFor(async () => (await withRedisAdmin({ addr: e1.addr }, (c) => c.info('replication'))).masterLinkStatus === 'up', 10_000, 'e1 link up');
    const o = await call(h, 'GET', '/api/v1/overview');
    expect(o.status).toBe(200);
    const g1 = (o.body.current.groups as Json[]).find((g) => g.id === 1)!;
    expect(g1.keys).toBe(2);
    expect(g1.usedMemory).toBeGreaterThan(0);
    const byAddr = Object.fromEntries((g1.servers as Json[]).map((s) => [s.addr, s]));
    expect(byAddr[m1.addr]).toMatchObject({ role: 'master', actualRole: 'master', up: true, keys: 2 });
    expect(byAddr[e1.addr]).toMatchObject({ role: 'replica', actualRole: 'replica', masterLinkStatus: 'up' });
    expect(o.body.current.keys).toBeGreaterThanOrEqual(3);
  });

  it('removes a replica from the model without touching the server', async () => {
    const r = await call(h, 'DELETE', `/api/v1/groups/1/servers/${e1.addr}`);
    expect(r.status).toBe(200);
    expect(r.body.group.servers.map((s: Json) => s.addr)).toEqual([m1.addr, r1.addr]);
    expect((await roleOf(e1.addr)).role).toBe('replica');
  });
});

describe('promotion', () => {
  it('promotes a replica behind the barrier: proxies hold the group, model switches, replicas re-point', async () => {
    const m = await redis();
    const r = await redis(['--replicaof', '127.0.0.1', String(m.port)]);
    const r2 = await redis(['--replicaof', '127.0.0.1', String(m.port)]);
    const h = await makeDashboard(uniqueCluster('promote'), { barrierTimeoutMs: 5000 });
    const runtime = new RecordingRuntime();
    const driver = createFollowerDriver({
      coordinator: h.coord,
      cluster: h.cluster,
      proxy: { id: 'proxy-1', addr: '127.0.0.1:1', adminAddr: '127.0.0.1:1' },
      leaseTtlSeconds: 5,
    });
    const follower = await driver(runtime);
    try {
      await call(h, 'POST', '/api/v1/groups', { id: 1 });
      for (const s of [m, r, r2]) {
        if (s !== m) await waitFor(async () => (await roleOf(s.addr)).role === 'replica', 5000, 'replica');
        expect((await call(h, 'POST', '/api/v1/groups/1/servers', { addr: s.addr })).status).toBe(201);
      }
      await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'even' });
      await withRedisAdmin({ addr: m.addr }, (c) => c.call('SET', 'before', 'promotion'));
      await waitFor(async () => {
        const role = await roleOf(r.addr);
        return role.role === 'replica' && role.state === 'connected';
      }, 10_000, 'replica link');
      const res = await call(h, 'POST', '/api/v1/groups/1/promote', { addr: r.addr });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.warnings).toEqual([]);
      expect(res.body.group.servers).toEqual([
        { addr: r.addr, role: 'master' },
        { addr: m.addr, role: 'replica' },
        { addr: r2.addr, role: 'replica' },
      ]);
      expect(res.body.steps.join('\n')).toContain(`REPLICAOF NO ONE on ${r.addr}`);
      // The proxy saw the group held (prepared) and then the new master, in that order, and acked both.
      const seen = runtime.applied.map((t) => ({ rev: t.revision, promoting: t.groups.get(1)?.promoting?.state, master: t.groups.get(1)?.servers.find((s) => s.role === 'master')?.addr }));
      const held = seen.findIndex((x) => x.promoting === 'prepared');
      expect(held).toBeGreaterThanOrEqual(0);
      expect(seen[held]!.master).toBe(m.addr);
      expect(seen.slice(held + 1).some((x) => x.promoting === undefined && x.master === r.addr)).toBe(true);
      expect(driver.state()!.ackedRevision).toBeGreaterThanOrEqual(res.body.revision);
      // The servers agree with the model.
      expect((await roleOf(r.addr)).role).toBe('master');
      await waitFor(async () => {
        const [a, b] = await Promise.all([roleOf(m.addr), roleOf(r2.addr)]);
        return a.role === 'replica' && a.master === r.addr && b.role === 'replica' && b.master === r.addr;
      }, 10_000, 'old master and other replica to follow the new master');
      expect(await withRedisAdmin({ addr: r.addr }, (c) => c.call('GET', 'before'))).toBe('promotion');
      const audit = (await call(h, 'GET', '/api/v1/audit?limit=1')).body.entries[0];
      expect(audit).toMatchObject({ action: 'group.promote', result: 'ok' });
      expect(audit.detail).toContain('every live proxy holds the group');
    } finally {
      await follower.stop();
      await h.close();
    }
  });

  it('a new leader resumes a promotion a previous leader left at prepared', async () => {
    const m = await redis();
    const r = await redis(['--replicaof', '127.0.0.1', String(m.port)]);
    await waitFor(async () => {
      const role = await roleOf(r.addr);
      return role.role === 'replica' && role.state === 'connected';
    }, 10_000, 'replica link');
    const cluster = uniqueCluster('resume');
    // What a leader that died right after persisting step 2 leaves behind.
    const { openCoordinator } = await import('../../shared/coordinator/index.js');
    const seed = await openCoordinator(`memory://${cluster}`);
    await seed.coordinator.put(
      seed.paths.group(1),
      JSON.stringify({ id: 1, weight: 1, servers: [{ addr: m.addr, role: 'master' }, { addr: r.addr, role: 'replica' }], promoting: { state: 'prepared', newMaster: r.addr } }),
    );
    await seed.coordinator.close();
    const h = await makeDashboard(cluster);
    try {
      await waitFor(async () => {
        const g = JSON.parse((await h.coord.get(h.paths.group(1)))!.value);
        return g.promoting === undefined && g.servers[0].addr === r.addr && g.servers[0].role === 'master';
      }, 10_000, 'the promotion to be finished by the new leader');
      expect((await roleOf(r.addr)).role).toBe('master');
      await waitFor(async () => (await roleOf(m.addr)).role === 'replica', 5000, 'old master to follow');
      await waitFor(async () => ((await call(h, 'GET', '/api/v1/audit')).body.entries as Json[]).some((e) => e.action === 'group.promote.resume'), 5000, 'audit entry');
      const entry = ((await call(h, 'GET', '/api/v1/audit')).body.entries as Json[]).find((e) => e.action === 'group.promote.resume')!;
      expect(entry).toMatchObject({ result: 'ok', target: 'group 1', who: expect.stringMatching(/^dashboard:/) });
      expect(entry.detail).toContain('resumed (prepared)');
    } finally {
      await h.close();
    }
  });

  it('promotes with force when the master is dead; warns that the old master could not be re-pointed', async () => {
    const m = await redis();
    const r = await redis(['--replicaof', '127.0.0.1', String(m.port)]);
    const h = await makeDashboard(uniqueCluster('promote-dead'));
    try {
      await call(h, 'POST', '/api/v1/groups', { id: 1 });
      await call(h, 'POST', '/api/v1/groups/1/servers', { addr: m.addr });
      await waitFor(async () => (await roleOf(r.addr)).role === 'replica', 5000, 'replica');
      await call(h, 'POST', '/api/v1/groups/1/servers', { addr: r.addr });
      await m.stop();
      await waitFor(async () => {
        const role = await roleOf(r.addr);
        return role.role === 'replica' && role.state !== 'connected';
      }, 10_000, 'replica to see its master gone');
      const refused = await call(h, 'POST', '/api/v1/groups/1/promote', { addr: r.addr });
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toContain('pass force to promote anyway');
      const res = await call(h, 'POST', '/api/v1/groups/1/promote', { addr: r.addr, force: true });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.group.servers[0]).toEqual({ addr: r.addr, role: 'master' });
      expect(res.body.warnings.join('\n')).toContain(`could not re-point ${m.addr} (old master)`);
      expect((await roleOf(r.addr)).role).toBe('master');
      const g = JSON.parse((await h.coord.get(h.paths.group(1)))!.value);
      expect(g.promoting).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});
