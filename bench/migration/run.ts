/**
 * Migration benchmark (`npm run bench:migration`): real etcd, two redis-servers (group 1 holds every slot,
 * group 2 is new), a proxy process following etcd, and a dashboard with the migration engine in this process.
 *
 *   1. load BENCH_KEYS small keys (default 1,000,000; `key:%012d`, 16-byte values, the names redis-benchmark
 *      -r uses, so client load hits them) into group 1;
 *   2. unloaded: move slots 512-1023 (half the slots) to group 2, no client traffic -> keys/s;
 *   3. loaded: redis-benchmark (GET+SET, -c BENCH_CLIENTS, -r keyspace) against the proxy: a baseline run
 *      before, then back-to-back runs while the same half moves back to group 1 -> keys/s, client p99
 *      before and during. "During" is the p99 of every request of every run pooled (from redis-benchmark's
 *      latency distributions), next to the worst and median of the runs' own p99; plus how much of the
 *      move the mover spent paced for client load;
 *   3b. diagnostic: the same half migrating with the mover throttled to 1 key/s -> client p99 caused by the
 *      proxies' migrate-on-access alone;
 *   4. big key: a hash of BENCH_BIGKEY_MB MiB (default 1024; 0 skips) moved alone; its MIGRATE blocking time
 *      and the longest PING stall seen on the source meanwhile. The servers then run with proto-max-bulk-len
 *      and client-query-buffer-limit 4gb: with the defaults the target refuses a payload that large.
 * Results: a table on stdout and a JSON line (prefix `RESULT `). Machine noise matters (2 shared cores):
 * compare runs from the same session.
 *
 * Env: BENCH_UNLOADED_ONLY=1, BENCH_SOURCE_FIRST=0, BENCH_KEYS, BENCH_CLIENTS (50), BENCH_BIGKEY_MB (1024),
 *      BENCH_BATCH_KEYS / BENCH_PIPELINE / BENCH_TARGET_MS / BENCH_LOADED_DUTY (mover knobs),
 *      BENCH_BEFORE_S (5), REDSLOT_LOG_LEVEL.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { RedisLink } from '../../dashboard/redis/link.js';
import type { JobView, MigrationStatus } from '../../dashboard/migration/views.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import { startMigrationCluster, type MigrationCluster } from './cluster.js';
import { pooledPercentile, redisBenchmark as runRedisBenchmark, type BenchRow } from '../support/redis-benchmark.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'warn');

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const BIGKEY_MB = Number(process.env.BENCH_BIGKEY_MB ?? 1024);
const BEFORE_S = Number(process.env.BENCH_BEFORE_S ?? 5);
const BATCH = process.env.BENCH_BATCH_KEYS ? Number(process.env.BENCH_BATCH_KEYS) : undefined;
const PIPELINE = process.env.BENCH_PIPELINE ? Number(process.env.BENCH_PIPELINE) : undefined;
const TARGET_MS = process.env.BENCH_TARGET_MS ? Number(process.env.BENCH_TARGET_MS) : undefined;
const LOADED_DUTY = process.env.BENCH_LOADED_DUTY ? Number(process.env.BENCH_LOADED_DUTY) : undefined;
/** BENCH_SOURCE_FIRST=0: proxies take the MIGRATE-first path for every command (migrate.sourceFirst false). */
const SOURCE_FIRST = process.env.BENCH_SOURCE_FIRST !== '0';
/** BENCH_UNLOADED_ONLY=1: stop after the unloaded move (quick knob comparisons). */
const UNLOADED_ONLY = process.env.BENCH_UNLOADED_ONLY === '1';

function log(msg: string): void {
  process.stderr.write(`[bench:migration] ${msg}\n`);
}

/** One redis-benchmark run (GET and SET, -c BENCH_CLIENTS, keyspace BENCH_KEYS) against the proxy. */
function redisBenchmark(port: number, requests: number): Promise<BenchRow[]> {
  return runRedisBenchmark({ port, requests, clients: CLIENTS, keyspace: KEYS });
}

async function loadKeys(addr: string): Promise<void> {
  const link = new RedisLink({ addr, commandTimeoutMs: 60_000 });
  const value = Buffer.alloc(16, 0x78);
  const inflight: Array<Promise<unknown>> = [];
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i += 1000) {
    const args: Array<string | Buffer> = ['MSET'];
    for (let j = i; j < Math.min(KEYS, i + 1000); j++) args.push(`key:${String(j).padStart(12, '0')}`, value);
    inflight.push(link.call(args));
    if (inflight.length >= 16) await inflight.shift();
  }
  await Promise.all(inflight);
  link.close();
  log(`loaded ${KEYS} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function waitDone(api: DashboardClient, id: string, during?: () => Promise<void>): Promise<JobView> {
  for (;;) {
    const j = await api.request<JobView>('GET', `/api/v1/migrations/${id}`);
    if (j.state === 'done') return j;
    if (j.errors.length > 0) log(`errors: ${JSON.stringify(j.errors.slice(0, 3))}`);
    if (during) await during();
    else await new Promise((r) => setTimeout(r, 250));
  }
}

async function move(c: MigrationCluster, api: DashboardClient, from: number, to: number, group: number, during?: () => Promise<void>) {
  const engine = c.dashboards[0]!.engine!;
  const before = (await engine.status()).keysMoved;
  const t0 = performance.now();
  const res = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from, to, group });
  // How often the mover paced itself for client load (and the client ops/s it saw on the source).
  let samples = 0;
  let paced = 0;
  let maxClientOps = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const st = await engine.status();
      for (const m of st.movers) {
        samples++;
        if (m.pacing) paced++;
        maxClientOps = Math.max(maxClientOps, m.clientOpsPerSec);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const job = await waitDone(api, res.job.id, during);
  sampling = false;
  await sampler;
  const seconds = (performance.now() - t0) / 1000;
  const moved = (await engine.status()).keysMoved - before;
  const pacedShare = samples ? Math.round((paced / samples) * 100) / 100 : 0;
  return { seconds, moved, keysPerSec: Math.round(moved / seconds), job, pacedShare, maxClientOps };
}

async function dbsize(addr: string): Promise<number> {
  const link = new RedisLink({ addr });
  const r = await link.call(['DBSIZE']);
  link.close();
  return Number(r);
}

async function bigKeyPhase(c: MigrationCluster, api: DashboardClient): Promise<Record<string, unknown> | undefined> {
  if (!(BIGKEY_MB > 0)) return undefined;
  const src = c.redis[0]!.addr;
  // A hash of ~BIGKEY_MB MiB (MEMORY USAGE): random (incompressible) 100-byte values, ~178 bytes per entry.
  const fields = Math.round((BIGKEY_MB * 1024 * 1024) / 178);
  const name = 'bench:bighash';
  const slot = slotOf(Buffer.from(name));
  const link = new RedisLink({ addr: src, commandTimeoutMs: 600_000 });
  const t0 = performance.now();
  const inflight: Array<Promise<unknown>> = [];
  for (let i = 0; i < fields; i += 1000) {
    const args: Array<string | Buffer> = ['HSET', name];
    for (let j = i; j < Math.min(fields, i + 1000); j++) args.push(`f${j}`, randomBytes(100));
    inflight.push(link.call(args));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  const mem = Number(await link.call(['MEMORY', 'USAGE', name]));
  log(`big key: ${fields} fields, MEMORY USAGE ${(mem / 1048576).toFixed(0)} MiB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // PING the source every 5 ms on its own connection: the longest gap is what clients of that master feel.
  const pinger = new RedisLink({ addr: src, commandTimeoutMs: 600_000 });
  let maxStall = 0;
  let stop = false;
  const ping = (async () => {
    while (!stop) {
      const p0 = performance.now();
      await pinger.call(['PING']);
      maxStall = Math.max(maxStall, performance.now() - p0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const owner = (await api.slots()).slots[slot]!.group;
  const r = await move(c, api, slot, slot, owner === 1 ? 2 : 1);
  stop = true;
  await ping;
  pinger.close();
  link.close();
  const status = await api.request<MigrationStatus>('GET', '/api/v1/migrations');
  const report = status.bigKeys.find((b) => b.key === name);
  return { fields, memoryBytes: mem, blockedMs: report?.blockedMs ?? null, action: report?.action ?? null, maxPingStallMs: Math.round(maxStall), totalSeconds: r.seconds };
}

async function main(): Promise<void> {
  log(`starting cluster (etcd, 2 redis-servers, proxy process, dashboard in process); ${KEYS} keys`);
  const c = await startMigrationCluster({
    groups: 1,
    spareGroups: 1,
    proxies: 1,
    coordinator: 'etcd',
    proxyProcess: true,
    leaseTtlMs: 5000,
    // Stock limits refuse a RESTORE payload over 512 MB (proto-max-bulk-len) / 1 GB query buffer: a 1 GB key
    // cannot be MIGRATEd without raising them on the target (measured: IOERR after blocking the source).
    redisArgs: BIGKEY_MB > 0 ? ['--proto-max-bulk-len', '4gb', '--client-query-buffer-limit', '4gb'] : [],
    barrierTimeoutMs: 60_000,
    ...(SOURCE_FIRST ? {} : { proxyOverrides: { 'migrate.sourceFirst': 'false' } }),
    plugin: { knobs: { ...(BATCH ? { batchKeys: BATCH } : {}), ...(PIPELINE ? { pipeline: PIPELINE } : {}), ...(TARGET_MS !== undefined ? { targetBatchMs: TARGET_MS } : {}), ...(LOADED_DUTY !== undefined ? { loadedDuty: LOADED_DUTY } : {}) } },
  });
  try {
    const api = await c.leader();
    await loadKeys(c.redis[0]!.addr);
    const proxyPort = c.proxies[0]!.port;

    log('unloaded: moving slots 512-1023 (half) from group 1 to group 2');
    const unloaded = await move(c, api, 512, 1023, 2);
    const [g1, g2] = await Promise.all([dbsize(c.redis[0]!.addr), dbsize(c.redis[1]!.addr)]);
    if (g1 + g2 !== KEYS) throw new Error(`key count changed: ${g1} + ${g2} != ${KEYS}`);
    log(`unloaded: ${unloaded.moved} keys in ${unloaded.seconds.toFixed(2)} s = ${unloaded.keysPerSec} keys/s (group1 ${g1}, group2 ${g2})`);
    if (UNLOADED_ONLY) {
      process.stdout.write(`RESULT ${JSON.stringify({ keys: KEYS, unloaded: { seconds: +unloaded.seconds.toFixed(2), keysPerSec: unloaded.keysPerSec } })}\n`);
      return;
    }

    log(`client load: redis-benchmark GET+SET -c ${CLIENTS} against the proxy, baseline ${BEFORE_S} s`);
    const calib = await redisBenchmark(proxyPort, 20_000);
    const rps = Math.max(1000, Math.min(...calib.map((r) => r.rps)));
    const before = await redisBenchmark(proxyPort, Math.round(rps * BEFORE_S));
    const duringRuns: BenchRow[][] = [];
    let benchBusy: Promise<void> | undefined;
    const loaded = await move(c, api, 512, 1023, 1, async () => {
      // Back-to-back short runs (~0.5 s per test before the move) for as long as the move lasts.
      benchBusy ??= redisBenchmark(proxyPort, Math.max(2000, Math.round(rps * 0.5))).then((rows) => {
        duringRuns.push(rows);
        benchBusy = undefined;
      });
      await new Promise((r) => setTimeout(r, 250));
    });
    await benchBusy;
    const [h1, h2] = await Promise.all([dbsize(c.redis[0]!.addr), dbsize(c.redis[1]!.addr)]);
    log(`loaded: ${loaded.moved} keys in ${loaded.seconds.toFixed(2)} s = ${loaded.keysPerSec} keys/s (group1 ${h1}, group2 ${h2})`);
    const during = duringRuns.flat();
    const pooledDuring = pooledPercentile(during);
    const pooledBefore = pooledPercentile(before);
    const p99 = (rows: BenchRow[]) => (rows.length ? Math.max(...rows.map((r) => r.p99)) : NaN);
    const medianP99 = (rows: BenchRow[]) => {
      const xs = rows.map((r) => r.p99).sort((a, b) => a - b);
      return xs.length ? xs[Math.floor(xs.length / 2)]! : NaN;
    };

    // Diagnostic: slots migrating but the mover throttled to 1 key/s, so client latency shows the cost of
    // migrate-on-access in the proxy alone (without the mover's batches queued on the source).
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 1 });
    const diagJob = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from: 512, to: 1023, group: 2 });
    while ((await api.request<MigrationStatus>('GET', '/api/v1/migrations')).slots.migrating < 512) await new Promise((r) => setTimeout(r, 50));
    const onAccess = await redisBenchmark(proxyPort, Math.round(rps * 2));
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 0 });
    await waitDone(api, diagJob.job.id);
    log(`migrate-on-access only (mover throttled to 1 key/s): ${onAccess.map((r) => `${r.test} p99 ${r.p99} ms ${Math.round(r.rps)} rps`).join(', ')}`);

    const big = await bigKeyPhase(c, api).catch((err: unknown) => ({ error: String(err) }));

    const result = {
      keys: KEYS,
      sourceFirst: SOURCE_FIRST,
      knobs: { batchKeys: BATCH, pipeline: PIPELINE, targetBatchMs: TARGET_MS, loadedDuty: LOADED_DUTY },
      loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
      movedHalf: unloaded.moved,
      unloaded: { seconds: +unloaded.seconds.toFixed(2), keysPerSec: unloaded.keysPerSec, pacedShare: unloaded.pacedShare, maxClientOps: unloaded.maxClientOps },
      loaded: { seconds: +loaded.seconds.toFixed(2), keysPerSec: loaded.keysPerSec, benchRuns: duringRuns.length, pacedShare: loaded.pacedShare, maxClientOps: loaded.maxClientOps },
      client: {
        clients: CLIENTS,
        before: Object.fromEntries(before.map((r) => [r.test, { rps: Math.round(r.rps), p50: r.p50, p99: r.p99, max: r.max }])),
        beforePooledP99Ms: pooledBefore,
        duringPooledP99Ms: pooledDuring,
        duringWorstP99Ms: p99(during),
        duringMedianP99Ms: medianP99(during),
        during: during.map((r) => ({ test: r.test, rps: Math.round(r.rps), p99: r.p99, max: r.max, n: r.count })),
        migrateOnAccessOnly: Object.fromEntries(onAccess.map((r) => [r.test, { rps: Math.round(r.rps), p50: r.p50, p99: r.p99, max: r.max }])),
      },
      bigKey: big,
    };
    process.stdout.write(
      [
        '',
        `migration benchmark (${KEYS} keys, slots 512-1023 moved, ${new Date().toISOString()})`,
        `  unloaded:  ${unloaded.moved} keys in ${unloaded.seconds.toFixed(2)} s -> ${unloaded.keysPerSec} keys/s`,
        `  loaded:    ${loaded.moved} keys in ${loaded.seconds.toFixed(2)} s -> ${loaded.keysPerSec} keys/s (redis-benchmark -c ${CLIENTS} GET+SET meanwhile)`,
        `  client p99 before: ${before.map((r) => `${r.test} ${r.p99} ms (${Math.round(r.rps)} rps)`).join(', ')}`,
        `  client p99 before, GET and SET pooled: ${pooledBefore} ms`,
        `  client p99 during, every request of the ${during.length} runs pooled: ${pooledDuring} ms (per run: worst ${p99(during)} ms, median ${medianP99(during)} ms)`,
        `  client p99 with slots migrating, mover throttled to 1 key/s (proxy migrate-on-access alone): ${onAccess.map((r) => `${r.test} ${r.p99} ms`).join(', ')}`,
        big && 'blockedMs' in big ? `  big key: ${(Number(big.memoryBytes) / 1048576).toFixed(0)} MiB hash, MIGRATE blocked the source ${big.blockedMs} ms (longest PING stall ${big.maxPingStallMs} ms)` : `  big key: ${JSON.stringify(big)}`,
        '',
      ].join('\n'),
    );
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await c.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:migration failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
