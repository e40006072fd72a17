/**
 * Replica reads on real servers: a group of master M + replica R, where R replicates M through a TCP relay
 * (so the test can cut the replication link while both servers stay up). Where each command ran is read from
 * the servers' own INFO commandstats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { setLogLevel } from '../../shared/log.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';

let master: RedisServerHandle;
let replica: RedisServerHandle;
let relay: TcpRelay;
const proxies: ProxyHandle[] = [];
const clients: Redis[] = [];

async function startOne(reads: 'master' | 'replica-preferred'): Promise<ProxyHandle> {
  const config = loadProxyConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      admin: null,
      reads,
      reachability: { interval: '100ms', timeout: '500ms' },
      topology: { groups: [{ id: 1, servers: [{ addr: master.addr, role: 'master' }, { addr: replica.addr, role: 'replica' }] }], slots: [[0, 1023, 1]] },
    },
  });
  const p = await startProxy({ config, defaultMetrics: false });
  proxies.push(p);
  return p;
}

function client(p: ProxyHandle): Redis {
  const c = new Redis({ host: '127.0.0.1', port: p.port, maxRetriesPerRequest: 0 });
  clients.push(c);
  return c;
}

/** calls of `cmd` on a server, from its own INFO commandstats. */
async function calls(s: RedisServerHandle, cmd: string): Promise<number> {
  const c = new Redis({ host: '127.0.0.1', port: s.port });
  try {
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await c.info('commandstats'));
    return m ? Number(m[1]) : 0;
  } finally {
    c.disconnect();
  }
}

async function until(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let p: ProxyHandle;

beforeAll(async () => {
  setLogLevel('error');
  master = await startRedis();
  relay = await startTcpRelay(master.port);
  replica = await startRedis(['--replicaof', '127.0.0.1', String(relay.port)]);
  p = await startOne('master');
  await client(p).set('rr:k', 'v1');
  await until(() => p.runtime.pool.peek(replica.addr)?.readable === true, 10_000, 'the replica readable');
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const x of proxies) await x.close({ deadlineMs: 500 });
  await relay?.stop();
  await replica?.stop();
  await master?.stop();
});

describe('replica reads (READONLY / READWRITE, reads knob)', () => {
  it('READONLY: reads are served by the replica (its commandstats), writes, transactions, scripts and blocking commands by the master', async () => {
    const c = client(p);
    const direct = new Redis({ host: '127.0.0.1', port: replica.port });
    clients.push(direct);
    await until(async () => (await direct.get('rr:k')) === 'v1', 5000, 'rr:k replicated');
    expect(await c.call('readonly')).toBe('OK');
    const [rGet0, mGet0] = [await calls(replica, 'get'), await calls(master, 'get')];
    for (let i = 0; i < 20; i++) expect(await c.get('rr:k')).toBe('v1');
    expect((await calls(replica, 'get')) - rGet0).toBe(20);
    expect((await calls(master, 'get')) - mGet0).toBe(0);

    const [mSet0, rSetCallsBefore] = [await calls(master, 'set'), await calls(replica, 'set')];
    await c.set('rr:w', 'x');
    expect((await calls(master, 'set')) - mSet0).toBe(1);
    // (the replica runs the SET too, as replication: +1 there as well, never more)
    await until(async () => (await calls(replica, 'set')) - rSetCallsBefore === 1, 2000, 'SET replicated');

    const mGet1 = await calls(master, 'get');
    const rGet1 = await calls(replica, 'get');
    const tx = await c.multi().get('rr:k').exec();
    expect(tx).toEqual([[null, 'v1']]);
    expect(await c.eval("return redis.call('get', KEYS[1])", 1, 'rr:k')).toBe('v1');
    expect(await c.blpop('rr:list', 0.05)).toBeNull();
    expect((await calls(master, 'get')) - mGet1).toBe(2); // in MULTI and in the script
    expect((await calls(replica, 'get')) - rGet1).toBe(0);
    expect(await calls(replica, 'blpop')).toBe(0);

    expect(await c.call('readwrite')).toBe('OK');
    const [rGet2, mGet2] = [await calls(replica, 'get'), await calls(master, 'get')];
    await c.get('rr:k');
    expect((await calls(replica, 'get')) - rGet2).toBe(0);
    expect((await calls(master, 'get')) - mGet2).toBe(1);
  });

  it('reads: replica-preferred makes replica reads the default; READWRITE turns it off for one connection', async () => {
    const p2 = await startOne('replica-preferred');
    await until(() => p2.runtime.pool.peek(replica.addr)?.readable === true, 10_000, 'the replica readable for the second proxy');
    const c = client(p2);
    const r0 = await calls(replica, 'get');
    await c.get('rr:k');
    expect((await calls(replica, 'get')) - r0).toBe(1);
    await c.call('readwrite');
    const m0 = await calls(master, 'get');
    await c.get('rr:k');
    expect((await calls(master, 'get')) - m0).toBe(1);
  });

  it("falls back to the master while the replica's link is down, and back to the replica when it is up", async () => {
    const c = client(p);
    await c.call('readonly');
    await relay.close();
    await until(() => p.runtime.pool.peek(replica.addr)?.readable === false, 5000, 'the replica unreadable');
    const [rGet0, mGet0] = [await calls(replica, 'get'), await calls(master, 'get')];
    for (let i = 0; i < 10; i++) expect(await c.get('rr:k')).toBe('v1');
    expect((await calls(replica, 'get')) - rGet0).toBe(0);
    expect((await calls(master, 'get')) - mGet0).toBe(10);
    await relay.reopen();
    await until(() => p.runtime.pool.peek(replica.addr)?.readable === true, 15_000, 'the replica readable again');
    const r1 = await calls(replica, 'get');
    await c.get('rr:k');
    expect((await calls(replica, 'get')) - r1).toBe(1);
  }, 30_000);
});
