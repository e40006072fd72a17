/**
 * Issue 15 hole 5 with real processes: a `redslot proxy` following a real etcd reaches group 1's master through
 * a TCP relay (the one fake: a slow network path between that proxy and the server, tests/support/tcp-c.relay!.ts).
 * The proxy routes writes, the relay holds them, the proxy is frozen with SIGSTOP past its lease, a real
 * dashboard (in this process) moves the slot to group 2, then the relay lets the writes go and the proxy resumes.
 * None of those writes may land on the source after the step; every write acknowledged to the client must be
 * on the target with its value.
 * - held in the network (kernel buffers, relay): closed by the dashboard killing the connections of proxies
 *   that are no longer registered (dashboard/topom/stale-connections.ts);
 * - held in the proxy's user space behind a backend handshake: closed by the proxy writing nothing past its
 *   serve deadline (proxy/backend/write-fence.ts).
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDashboardWithMigration, listenAndCampaign, TOKEN } from '../../bench/migration/cluster.js';
import type { App } from '../../dashboard/app.js';
import { DashboardClient } from '../../dashboard/cli/api-client.js';
import type { JobView } from '../../dashboard/migration/views.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOfString } from '../../shared/slot.js';
import type { Spawned } from '../support/processes.js';
import { until } from '../support/until.js';
import { registeredPid, startProxyProcess, useFrozenCluster } from './frozen-support.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const c = useFrozenCluster('inflight', { relayGroup1: true });
const groups = c.groups;
const apps: App[] = [];

afterAll(async () => {
  for (const a of apps) await a.close();
});

/** A dashboard with the migration engine in this process; moves `slot` to group 2 and waits for the job. */
async function moveSlotToGroup2(slot: number): Promise<JobView> {
  const app = await buildDashboardWithMigration(c.coord, { leaseTtlMs: 3000, barrierTimeoutMs: 5000, plugin: { pollMs: 100, retryMs: 300 } });
  apps.push(app);
  const api = new DashboardClient({ baseUrl: await listenAndCampaign(app), token: TOKEN, timeoutMs: 30_000 });
  await until('dashboard leads', () => app.dashboard.election.isLeader(), 20_000);
  const started = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from: slot, to: slot, group: 2 });
  let job = started.job;
  await until('migration job done', async () => {
    job = await api.request<JobView>('GET', `/api/v1/migrations/${started.job.id}`);
    return job.state === 'done';
  }, 30_000, () => JSON.stringify(job));
  await app.close();
  apps.splice(apps.indexOf(app), 1);
  return job;
}

const usedSlots = new Set<number>();

/** A tag whose slot still belongs to group 1 (slots 0-511), a new slot on each call (a retried test too). */
function tagInGroup1(seed: string): string {
  for (let i = 0; ; i++) {
    const slot = slotOfString(`${seed}${i}`);
    if (slot < 512 && !usedSlots.has(slot)) {
      usedSlots.add(slot);
      return `${seed}${i}`;
    }
  }
}

/** Keys of `slot` in database `db` of a server. */
async function keysOfSlot(r: Redis, db: number, slot: number): Promise<string[]> {
  await r.select(db);
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) if (slotOfString(k) === slot) out.push(k);
  } while (cursor !== '0');
  return out;
}

const setCmd = (k: string, v: string) => `*3\r\n$3\r\nSET\r\n$${Buffer.byteLength(k)}\r\n${k}\r\n$${Buffer.byteLength(v)}\r\n${v}\r\n`;

/** A raw client: pipelined commands, single-line replies collected in order. */
async function rawClient(port: number): Promise<{ sock: net.Socket; replies: () => string[] }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let buf = '';
  sock.on('data', (d) => (buf += d.toString()));
  sock.on('error', () => undefined);
  return { sock, replies: () => buf.split('\r\n').filter((l) => l !== '') };
}

/**
 * Freezes the proxy, waits for etcd to expire its lease, moves the slot with the dashboard, then runs `release`
 * (the relay lets the held bytes go) and resumes the proxy.
 */
async function freezeMoveResume(proc: Spawned, slot: number, release: () => void): Promise<void> {
  process.kill(proc.pid, 'SIGSTOP');
  let resumed = false;
  try {
    await until('lease expired in etcd', async () => !(await registeredPid(c.coord, proc.pid)), 10_000);
    const job = await moveSlotToGroup2(slot);
    expect(job.state).toBe('done');
    release();
    // The relay moves the held bytes before the proxy runs again: it sees whatever the server made of them.
    await new Promise((r) => setTimeout(r, 500));
    process.kill(proc.pid, 'SIGCONT');
    resumed = true;
  } finally {
    if (!resumed) process.kill(proc.pid, 'SIGCONT');
  }
}

/** Every acknowledged SET is on group 2 with its value; nothing of the slot is left on group 1. */
async function checkWrites(db: number, slot: number, keys: string[], replies: string[]): Promise<{ acked: number; refused: number }> {
  const g1 = new Redis({ port: groups[0]!.port });
  const g2 = new Redis({ port: groups[1]!.port });
  try {
    expect(await keysOfSlot(g1, db, slot)).toEqual([]);
    await g2.select(db);
    let acked = 0;
    let refused = 0;
    for (let i = 0; i < keys.length; i++) {
      if (replies[i] === '+OK') {
        acked++;
        expect(await g2.get(keys[i]!), `acknowledged ${keys[i]}`).toBe(`v${i}`);
      } else {
        expect(replies[i]).toMatch(/^-/);
        refused++;
      }
    }
    return { acked, refused };
  } finally {
    g1.disconnect();
    g2.disconnect();
  }
}

describe('a proxy frozen past its lease with writes in flight to the source (hole 5)', () => {
  it('writes held in the network (congested path) never run on the source after the slot moved: the dashboard killed the unregistered proxy\'s connections', async () => {
    // Fails before issue 15 hole 5: the relay delivered the SETs to group 1 after the slot had moved to group 2.
    const { proc, port } = await startProxyProcess(c, 1);
    const tag = tagInGroup1('net');
    const slot = slotOfString(tag);
    const io = new Redis({ port, maxRetriesPerRequest: 0 });
    for (let i = 0; i < 10; i++) expect(await io.set(`{${tag}}:pre${i}`, `pre${i}`)).toBe('OK');
    io.disconnect();
    const release = c.relay!.pauseOpen(); // the proxy's connections to group 1 stop moving bytes
    const client = await rawClient(port);
    const keys = Array.from({ length: 50 }, (_, i) => `{${tag}}:k${i}`);
    client.sock.write(keys.map((k, i) => setCmd(k, `v${i}`)).join(''));
    await new Promise((r) => setTimeout(r, 300)); // routed and written to the socket toward the relay
    expect(client.replies()).toEqual([]);
    await freezeMoveResume(proc, slot, release);
    await until('a reply to every SET', () => client.replies().length >= keys.length, 20_000, () => client.replies().join(' '));
    const { acked, refused } = await checkWrites(0, slot, keys, client.replies());
    expect(acked + refused).toBe(keys.length);
    // The writes acknowledged before the freeze moved with the slot.
    const g2 = new Redis({ port: groups[1]!.port });
    for (let i = 0; i < 10; i++) expect(await g2.get(`{${tag}}:pre${i}`)).toBe(`pre${i}`);
    g2.disconnect();
    client.sock.destroy();
    await proc.stop();
  }, 90_000);

  it('writes queued in the proxy behind a backend handshake are never written after its serve deadline', async () => {
    // Fails before issue 15 hole 5: the handshake completed after SIGCONT and the queued SETs went out to
    // group 1 (on a connection the server had not seen named yet, so nobody could kill it) after the slot moved.
    const { proc, port } = await startProxyProcess(c, 1, { backend: { dialTimeout: '60s' } });
    const tag = tagInGroup1('hs');
    const slot = slotOfString(tag);
    const before = c.relay!.accepted;
    c.relay!.holdNew(true); // the next connection through the relay stalls: its handshake gets no answer
    const client = await rawClient(port);
    const keys = Array.from({ length: 50 }, (_, i) => `{${tag}}:k${i}`);
    // Database 1: the proxy dials a new backend connection for it and queues the SETs behind its handshake.
    client.sock.write(`*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n${keys.map((k, i) => setCmd(k, `v${i}`)).join('')}`);
    await until('the proxy dialled group 1 for db 1', () => c.relay!.accepted > before);
    await new Promise((r) => setTimeout(r, 300));
    const release = c.relay!.pauseOpen();
    c.relay!.holdNew(false); // the dashboard's own connections pass
    expect(client.replies()).toEqual(['+OK']); // SELECT only
    await freezeMoveResume(proc, slot, release);
    await until('a reply to every SET', () => client.replies().length >= keys.length + 1, 20_000, () => client.replies().join(' '));
    const { acked, refused } = await checkWrites(1, slot, keys, client.replies().slice(1));
    expect(acked + refused).toBe(keys.length);
    client.sock.destroy();
    await proc.stop();
  }, 90_000);
});
