/**
 * Graceful shutdown, as Kubernetes does it to a proxy pod (deploy/k8s/proxy.yaml: preStop, then SIGTERM, then
 * terminationGracePeriodSeconds): the proxy runs as its own process through the real CLI entry
 * (`redslot proxy --config FILE --coordinator etcd://...`) against a real etcd and two real redis-servers.
 *
 * Scenario: six ioredis clients pipeline INCRs (200 per batch, each client on its own 32 keys spread over both
 * groups) as fast as they can; an idle ioredis client and an idle raw TCP client are connected too. Mid-load
 * the proxy gets SIGTERM. Then:
 *   - no acknowledged command is lost: for every key, the counter read directly from Redis equals the number
 *     of INCR replies the client received (and the replies were gap-free 1..n), so every command the proxy
 *     executed was also answered, and everything it did not answer never ran;
 *   - every client is told the connection is closing: each socket ends with a FIN (no reset), every pending
 *     ioredis command fails fast with "Connection is closed", no pipeline hangs;
 *   - a client connecting after SIGTERM is not served;
 *   - the proxy exits 0 well within its drain deadline and its registration in etcd is gone (lease revoked).
 * Controls, so the checks are known to bite: one INCR made directly in Redis after the run must show up as
 * "executed but never acknowledged"; and with SIGKILL instead of SIGTERM the proxy exits by signal and stays
 * registered in etcd until its lease expires — what the SIGTERM run must not show. (Whether a SIGKILL also
 * loses replies depends on timing, so the control does not count on it.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { stringify } from 'yaml';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { evenRanges } from '../../deploy/local/seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { until as untilOr } from '../support/until.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { seedCluster } from './follower-support.js';

const CLUSTER = 'sigterm';
const SHUTDOWN_DEADLINE_MS = 5_000;
const CLIENTS = 6;
const KEYS_PER_CLIENT = 32;
const BATCH = 200;

let etcd: EtcdHandle | undefined;
let coord: OpenedCoordinator | undefined;
const groups: RedisServerHandle[] = [];
const procs: Spawned[] = [];
const clients: Redis[] = [];
let dir = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn`; on timeout the error carries every spawned process's log. */
const until = (what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000) =>
  untilOr(what, fn, timeoutMs, () => procs.map((p) => p.log()).join('\n'));

beforeAll(async () => {
  groups.push(await startRedis(), await startRedis());
  etcd = await startEtcd();
  coord = await openCoordinator(`etcd://${etcd.endpoint}/${CLUSTER}`);
  // Chunked within etcd's 128 ops per txn (deploy/local/seed.ts's single txn is for the memory store).
  await seedCluster(
    coord.coordinator,
    coord.paths,
    CLUSTER,
    groups.map((g, i) => ({ id: i + 1, servers: [{ addr: g.addr, role: 'master' as const }], weight: 1 })),
    slotsFromRanges(evenRanges([1, 2])),
  );
  dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-sigterm-'));
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(procs.map((p) => p.stop()));
  await coord?.coordinator.close();
  await etcd?.stop();
  await Promise.all(groups.map((g) => g.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface ProxyProc {
  proc: Spawned;
  port: number;
  adminPort: number;
}

/** `redslot proxy` as its own process (node + tsx loader in one process, so the PID we signal is the proxy). */
async function startProxyProcess(): Promise<ProxyProc> {
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(dir, `proxy-${port}.yaml`);
  writeFileSync(
    file,
    stringify({
      cluster: CLUSTER,
      listen: `127.0.0.1:${port}`,
      admin: `127.0.0.1:${adminPort}`,
      shutdownDeadline: `${SHUTDOWN_DEADLINE_MS}ms`,
      limits: { maxPipeline: 10_000 },
    }),
  );
  const proc = spawnProcess(
    'proxy',
    process.execPath,
    [...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file, '--coordinator', `etcd://${etcd!.endpoint}/${CLUSTER}`],
    { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
  );
  procs.push(proc);
  await waitForPort(port, '127.0.0.1', 30_000).catch((err: unknown) => {
    throw new Error(`proxy did not start: ${proc.log()}`, { cause: err });
  });
  await until('proxy ready', async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200);
  return { proc, port, adminPort };
}

interface ClientRun {
  acked: Map<string, number>;
  /** Largest INCR reply per key; equals acked when replies were 1..n without gaps. */
  maxReply: Map<string, number>;
  errors: string[];
  socketErrors: string[];
  ended: boolean;
  settledAt: number;
}

function connect(port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    // No reconnects, no offline queue, no retries: whatever the proxy does to the connection is what we see.
    retryStrategy: () => null,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  clients.push(c);
  return c;
}

async function loadLoop(c: Redis, keys: string[], stop: () => boolean, run: ClientRun): Promise<void> {
  for (let n = 0; !stop(); n++) {
    const pipe = c.pipeline();
    const sent: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      const key = keys[(n * BATCH + i) % keys.length]!;
      sent.push(key);
      pipe.incr(key);
    }
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      run.errors.push((err as Error).message);
      return;
    }
    let failed = false;
    (results ?? []).forEach(([err, value], i) => {
      const key = sent[i]!;
      if (err === null && typeof value === 'number') {
        run.acked.set(key, (run.acked.get(key) ?? 0) + 1);
        run.maxReply.set(key, Math.max(run.maxReply.get(key) ?? 0, value));
      } else {
        failed = true;
        run.errors.push(err?.message ?? `unexpected reply ${String(value)}`);
      }
    });
    if (failed) return;
  }
}

interface Load {
  runs: ClientRun[];
  loops: Array<Promise<void>>;
  total(): number;
  stop(): void;
}

/** CLIENTS pipelining clients, each on its own keys `<prefix>:<client>:<k>` (spread over both groups). */
async function startLoad(port: number, prefix: string): Promise<Load> {
  const runs: ClientRun[] = [];
  const loops: Array<Promise<void>> = [];
  let stopped = false;
  for (let id = 0; id < CLIENTS; id++) {
    const c = connect(port);
    const run: ClientRun = { acked: new Map(), maxReply: new Map(), errors: [], socketErrors: [], ended: false, settledAt: 0 };
    c.on('error', (err: Error) => run.socketErrors.push(err.message));
    c.on('end', () => (run.ended = true));
    await c.connect();
    runs.push(run);
    const keys = Array.from({ length: KEYS_PER_CLIENT }, (_, k) => `${prefix}:${id}:${k}`);
    loops.push(loadLoop(c, keys, () => stopped, run).finally(() => (run.settledAt = Date.now())));
  }
  return {
    runs,
    loops,
    total: () => runs.reduce((n, r) => n + [...r.acked.values()].reduce((a, b) => a + b, 0), 0),
    stop: () => (stopped = true),
  };
}

/** Compares every client's replies with the counters in Redis, key by key; returns the disagreements. */
async function disagreements(load: Load, prefix: string): Promise<string[]> {
  const direct = groups.map((g) => new Redis({ host: g.host, port: g.port, maxRetriesPerRequest: 0 }));
  try {
    const inRedis = new Map<string, number>();
    for (const d of direct) for (const key of await d.keys(`${prefix}:*`)) inRedis.set(key, Number(await d.get(key)));
    const out: string[] = [];
    for (const r of load.runs) {
      for (const [key, n] of r.acked) {
        if (r.maxReply.get(key) !== n) out.push(`${key}: ${n} replies but the largest was ${r.maxReply.get(key)}`);
        if (inRedis.get(key) !== n) out.push(`${key}: ${n} acknowledged, ${inRedis.get(key)} in redis`);
      }
    }
    const acked = new Set(load.runs.flatMap((r) => [...r.acked.keys()]));
    for (const key of inRedis.keys()) if (!acked.has(key)) out.push(`${key}: in redis, never acknowledged`);
    return out;
  } finally {
    for (const d of direct) d.disconnect();
  }
}

async function registrations(): Promise<string[]> {
  return (await coord!.coordinator.getPrefix(coord!.paths.proxies)).kvs.map((kv) => kv.key);
}

describe('proxy graceful shutdown (SIGTERM during pipelined load)', () => {
  it('loses no acknowledged command, closes every client cleanly, exits 0 and deregisters', async () => {
    const { proc, port } = await startProxyProcess();
    expect(await registrations()).toHaveLength(1);
    const load = await startLoad(port, 'term');
    // Idle clients: an ioredis one and a raw socket that only listens for how the connection ends.
    const idle = connect(port);
    let idleEnded = false;
    idle.on('end', () => (idleEnded = true));
    idle.on('error', () => undefined);
    await idle.connect();
    expect(await idle.ping()).toBe('PONG');
    const raw = net.connect(port, '127.0.0.1');
    const rawEnd = new Promise<string>((resolve) => {
      raw.on('end', () => resolve('end (FIN)'));
      raw.on('error', (err) => resolve(`error ${err.message}`));
    });
    await new Promise((r) => raw.once('connect', r));

    // Mid-load: wait for real traffic, then SIGTERM the proxy process.
    await until('load', () => load.total() >= 20_000, 30_000);
    const ackedBeforeSignal = load.total();
    const t0 = Date.now();
    proc.child.kill('SIGTERM');

    // A client arriving after SIGTERM is not served (refused, or closed without a reply).
    await sleep(50);
    const late = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('connect', () => s.write('*1\r\n$4\r\nPING\r\n'));
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      s.on('close', () => resolve(data === '' ? 'closed without reply' : `served: ${JSON.stringify(data)}`));
      setTimeout(() => {
        s.destroy();
        resolve(`hung: ${JSON.stringify(data)}`);
      }, 3_000);
    });
    expect(late === 'ECONNREFUSED' || late === 'closed without reply', late).toBe(true);

    // Every loop settles (no hang) and the proxy exits 0 well within its deadline.
    const hang = setTimeout(() => load.stop(), SHUTDOWN_DEADLINE_MS + 5_000);
    await Promise.all(load.loops);
    clearTimeout(hang);
    const code = await Promise.race([proc.exited, sleep(SHUTDOWN_DEADLINE_MS + 5_000).then(() => 'timeout' as const)]);
    expect(code, proc.log()).toBe(0);
    for (const r of load.runs) expect(r.settledAt - t0).toBeLessThan(SHUTDOWN_DEADLINE_MS + 2_000);
    // In-flight commands were still answered after the signal.
    expect(load.total()).toBeGreaterThan(ackedBeforeSignal);

    // Every client was told: FIN, no reset, pending commands failed fast with a clear error.
    expect(await rawEnd).toBe('end (FIN)');
    await until('idle client end', () => idleEnded, 5_000);
    for (const r of load.runs) {
      expect(r.ended).toBe(true);
      expect(r.socketErrors.filter((e) => /ECONNRESET|EPIPE/.test(e))).toEqual([]);
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(e).toMatch(/Connection is closed/);
    }

    // No acknowledged command lost, none executed unacknowledged: Redis agrees with the replies, key by key.
    expect(await disagreements(load, 'term')).toEqual([]);
    // Control: the comparison sees a single increment nobody was told about.
    const [key, n] = [...load.runs[0]!.acked][0]!;
    const direct = new Redis({ host: groups[0]!.host, port: groups[0]!.port, maxRetriesPerRequest: 0 });
    const other = new Redis({ host: groups[1]!.host, port: groups[1]!.port, maxRetriesPerRequest: 0 });
    try {
      await ((await direct.exists(key)) ? direct : other).incr(key);
    } finally {
      direct.disconnect();
      other.disconnect();
    }
    expect(await disagreements(load, 'term')).toEqual([`${key}: ${n} acknowledged, ${n + 1} in redis`]);

    // Deregistered: the proxy revoked its lease, so its registration is gone from etcd at once.
    expect(await registrations()).toEqual([]);
  }, 120_000);

  it('control: SIGKILL mid-load is not an exit 0 and leaves the registration behind', async () => {
    const { proc, port } = await startProxyProcess();
    const load = await startLoad(port, 'kill');
    await until('load', () => load.total() >= 5_000, 30_000);
    await proc.kill9();
    await Promise.all(load.loops);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.child.signalCode).toBe('SIGKILL');
    expect(await registrations()).toHaveLength(1);
  }, 120_000);
});
