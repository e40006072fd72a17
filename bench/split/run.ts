/**
 * Split benchmark (`npm run bench:split`): the replication-based split next to the MIGRATE mover on the same
 * data in the same run. Real etcd, three redis-servers (group 1 holds every slot, groups 2 and 3 are new), a
 * proxy process following etcd, a dashboard with the migration engine and the split in this process.
 *
 *   1. load BENCH_KEYS small keys (default 200,000; `key:%012d`, 16-byte values, the names redis-benchmark -r
 *      uses) and a hash of BENCH_BIGKEY_MB MiB (default 64; 0 = none) in a slot of the upper half, into group 1;
 *   2. unloaded split: group 1 -> group 2, slots 512-1023 (half the keys and the big hash);
 *   3. unloaded MIGRATE: the same slots (the same data) group 2 -> group 3 with the migration engine;
 *   4. loaded split: group 3 -> group 2 (its upper half, 768-1023) while redis-benchmark (GET+SET,
 *      -c BENCH_CLIENTS) runs against the proxy back to back; a baseline run before;
 *   5. loaded MIGRATE: the same slots back group 2 -> group 3 under the same load.
 * Reported per phase: total time; the longest stall of the source master (a PING every 5 ms on its own
 * connection: for the split that is the fork of the full sync, for MIGRATE the big key's DUMP/RESTORE); for the
 * split the hold at the switch (the record's holdMs) and the longest request of a probe client doing GET on a
 * moving key through the proxy every 2 ms (the client-visible hold); client p99 before / during (pooled
 * redis-benchmark runs). Results: a table on stdout and a JSON line (prefix `RESULT `).
 *
 * Env: BENCH_KEYS (200000), BENCH_BIGKEY_MB (64), BENCH_CLIENTS (50), BENCH_BEFORE_S (3), BENCH_PHASE_TIMEOUT_S
 * (1800: a phase running longer fails the run), REDSLOT_LOG_LEVEL.
 * The issue's sizes: BENCH_KEYS=1000000 BENCH_BIGKEY_MB=1024 (the servers then allow 4 GB payloads).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { RedisLink } from '../../dashboard/redis/link.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import type { JobView } from '../../dashboard/migration/views.js';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { startMigrationCluster, type MigrationCluster } from '../migration/cluster.js';
import { pooledPercentile, redisBenchmark, type BenchRow } from '../support/redis-benchmark.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'warn');

const KEYS = Number(process.env.BENCH_KEYS ?? 200_000);
const BIGKEY_MB = Number(process.env.BENCH_BIGKEY_MB ?? 64);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const BEFORE_S = Number(process.env.BENCH_BEFORE_S ?? 3);
/** A phase not finished within this fails the run (it holds the machine-wide lock). */
const PHASE_TIMEOUT_S = Number(process.env.BENCH_PHASE_TIMEOUT_S ?? 1800);

/** Throws once a phase started at `t0` ran past PHASE_TIMEOUT_S. */
function checkDeadline(what: string, t0: number, state: string): void {
  if (performance.now() - t0 > PHASE_TIMEOUT_S * 1000) throw new Error(`${what} not finished within ${PHASE_TIMEOUT_S} s (still ${state})`);
}

function log(msg: string): void {
  process.stderr.write(`[bench:split] ${msg}\n`);
}

async function load(addr: string): Promise<string | null> {
  const link = new RedisLink({ addr, commandTimeoutMs: 600_000 });
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
  let big: string | null = null;
  if (BIGKEY_MB > 0) {
    for (let i = 0; big === null; i++) if (slotOf(Buffer.from(`bench:bighash:${i}`)) >= 768) big = `bench:bighash:${i}`;
    const fields = Math.round((BIGKEY_MB * 1024 * 1024) / 178);
    // 100-byte values cut at varying offsets from one random pool: as incompressible as fresh random bytes, without
    // 6 million randomBytes calls for a 1 GiB hash; HSETs of 1000 fields, 8 in flight.
    const pool = randomBytes(1 << 20);
    for (let i = 0; i < fields; i += 1000) {
      const args: Array<string | Buffer> = ['HSET', big];
      for (let j = i; j < Math.min(fields, i + 1000); j++) {
        const at = (j * 7919) % (pool.length - 100);
        args.push(`f${j}`, pool.subarray(at, at + 100));
      }
      inflight.push(link.call(args));
      if (inflight.length >= 8) await inflight.shift();
    }
    await Promise.all(inflight);
    log(`big key ${big}: MEMORY USAGE ${(Number(await link.call(['MEMORY', 'USAGE', big])) / 1048576).toFixed(0)} MiB`);
  }
  link.close();
  log(`loaded ${KEYS} keys${big ? ' and the big hash' : ''} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return big;
}

/**
 * Sends `args` to `addr` every `pauseMs` until stop(): the longest reply time (ms, 0.1 ms steps), an error reply
 * counting as a reply (logged: the run goes on).
 */
function longestReply(addr: string, args: string[], pauseMs: number): { stop: () => Promise<number> } {
  const link = new RedisLink({ addr, commandTimeoutMs: 600_000 });
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await link.call(args).catch((err: unknown) => log(`  ${args[0]} on ${addr} failed after ${(performance.now() - t0).toFixed(0)} ms: ${(err as Error).message}`));
      max = Math.max(max, performance.now() - t0);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      link.close();
      return Math.round(max * 10) / 10;
    },
  };
}

/** The longest stall of a master: PING every 5 ms on its own connection. */
const stallMeter = (addr: string) => longestReply(addr, ['PING'], 5);

/** The client-visible hold: GET of a moving key through the proxy every 2 ms. */
const holdProbe = (proxyAddr: string, key: string) => longestReply(proxyAddr, ['GET', key], 2);

/** A moving key (slot in [from, to]). */
function keyIn(from: number, to: number): string {
  for (let i = 0; ; i++) {
    const k = `key:${String(i).padStart(12, '0')}`;
    const s = slotOf(Buffer.from(k));
    if (s >= from && s <= to) return k;
  }
}

interface Phase {
  seconds: number;
  sourceStallMs: number;
  holdMs?: number;
  holdPartsMs?: SplitView['holdPartsMs'];
  probeMaxMs?: number;
  keys?: number;
}

async function split(c: MigrationCluster, api: DashboardClient, source: number, target: number, from: number, to: number, tick?: () => Promise<void>): Promise<Phase> {
  const srcAddr = c.redis[source - 1]!.addr;
  const stall = stallMeter(srcAddr);
  const probe = holdProbe(c.proxies[0]!.addr, keyIn(from, to));
  const t0 = performance.now();
  await api.request('POST', '/api/v1/splits', { source, target, from, to, confirm: true });
  let s: SplitView;
  let step = '';
  for (;;) {
    s = await api.request<SplitView>('GET', `/api/v1/splits/${source}`);
    if (s.step !== step) log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(step = s.step)}`);
    if (['done', 'aborted', 'failed'].includes(s.step)) break;
    checkDeadline('split', t0, s.step);
    if (tick) await tick();
    else await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const [sourceStallMs, probeMaxMs] = [await stall.stop(), await probe.stop()];
  if (s.step !== 'done') throw new Error(`split ${s.step}: ${s.reason}`);
  return { seconds: +seconds.toFixed(2), sourceStallMs, holdMs: s.holdMs, holdPartsMs: s.holdPartsMs, probeMaxMs, keys: s.purge?.sourceDeleted };
}

async function migrate(c: MigrationCluster, api: DashboardClient, source: number, target: number, from: number, to: number, tick?: () => Promise<void>): Promise<Phase> {
  const stall = stallMeter(c.redis[source - 1]!.addr);
  const probe = holdProbe(c.proxies[0]!.addr, keyIn(from, to));
  const t0 = performance.now();
  const res = await api.request<{ job: JobView }>('POST', '/api/v1/migrations', { mode: 'range', from, to, group: target });
  let j: JobView;
  for (;;) {
    j = await api.request<JobView>('GET', `/api/v1/migrations/${res.job.id}`);
    if (j.state === 'done') break;
    checkDeadline('MIGRATE', t0, `${j.state}, ${j.progress.keysMoved} keys moved`);
    if (tick) await tick();
    else await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: +seconds.toFixed(2), sourceStallMs: await stall.stop(), probeMaxMs: await probe.stop(), keys: j.progress.keysMoved };
}

async function main(): Promise<void> {
  log(`starting cluster (etcd, 3 redis-servers, proxy process, dashboard in process); ${KEYS} keys, big hash ${BIGKEY_MB} MiB`);
  const c = await startMigrationCluster({
    groups: 1,
    spareGroups: 2,
    proxies: 1,
    coordinator: 'etcd',
    proxyProcess: true,
    leaseTtlMs: 5000,
    barrierTimeoutMs: 60_000,
    redisArgs: BIGKEY_MB >= 400 ? ['--proto-max-bulk-len', '4gb', '--client-query-buffer-limit', '4gb'] : [],
  });
  try {
    const api = await c.leader();
    await load(c.redis[0]!.addr);
    const proxyPort = c.proxies[0]!.port;
    const bench = (requests: number) => redisBenchmark({ port: proxyPort, requests, clients: CLIENTS, keyspace: KEYS });

    log('unloaded split: group 1 -> group 2, slots 512-1023');
    const splitUnloaded = await split(c, api, 1, 2, 512, 1023);
    log(`  ${JSON.stringify(splitUnloaded)}`);
    log('unloaded MIGRATE: the same slots group 2 -> group 3');
    const migrateUnloaded = await migrate(c, api, 2, 3, 512, 1023);
    log(`  ${JSON.stringify(migrateUnloaded)}`);

    log(`client load: redis-benchmark GET+SET -c ${CLIENTS}, baseline ${BEFORE_S} s`);
    const calib = await bench(20_000);
    const rps = Math.max(1000, Math.min(...calib.map((r) => r.rps)));
    const before = await bench(Math.round(rps * BEFORE_S));
    const under = (runs: BenchRow[][]) => {
      let busy: Promise<void> | undefined;
      return {
        tick: async () => {
          // A failed run (redis-benchmark exits non-zero when the proxy drops it) is logged, not fatal.
          busy ??= bench(Math.max(2000, Math.round(rps * 0.5)))
            .then(
              (rows) => void runs.push(rows),
              (err: unknown) => log(`  client load run failed: ${(err as Error).message}`),
            )
            .finally(() => (busy = undefined));
          await new Promise((r) => setTimeout(r, 50));
        },
        settle: async () => busy,
      };
    };
    const splitRuns: BenchRow[][] = [];
    const ls = under(splitRuns);
    log('loaded split: group 3 -> group 2, slots 768-1023');
    const splitLoaded = await split(c, api, 3, 2, 768, 1023, ls.tick);
    await ls.settle();
    log(`  ${JSON.stringify(splitLoaded)}`);
    const migRuns: BenchRow[][] = [];
    const lm = under(migRuns);
    log('loaded MIGRATE: the same slots group 2 -> group 3');
    const migrateLoaded = await migrate(c, api, 2, 3, 768, 1023, lm.tick);
    await lm.settle();
    log(`  ${JSON.stringify(migrateLoaded)}`);

    const p99 = (rows: BenchRow[]) => pooledPercentile(rows);
    const result = {
      keys: KEYS,
      bigKeyMiB: BIGKEY_MB,
      loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
      unloaded: { split: splitUnloaded, migrate: migrateUnloaded },
      loaded: { split: splitLoaded, migrate: migrateLoaded },
      client: {
        clients: CLIENTS,
        beforeP99Ms: p99(before),
        splitDuringP99Ms: p99(splitRuns.flat()),
        splitDuringMaxMs: Math.max(0, ...splitRuns.flat().map((r) => r.max)),
        migrateDuringP99Ms: p99(migRuns.flat()),
        migrateDuringMaxMs: Math.max(0, ...migRuns.flat().map((r) => r.max)),
        runs: { split: splitRuns.length, migrate: migRuns.length },
      },
    };
    const row = (name: string, p: Phase) =>
      `  ${name.padEnd(18)} ${String(p.seconds).padStart(7)} s   source stall ${String(p.sourceStallMs).padStart(6)} ms${p.holdMs !== undefined ? `   hold ${p.holdMs} ms` : ''}   probe's longest GET on a moving key ${p.probeMaxMs} ms`;
    process.stdout.write(
      [
        '',
        `split benchmark (${KEYS} keys + ${BIGKEY_MB} MiB hash; half of them moved; ${new Date().toISOString()}; load ${result.loadavg})`,
        row('split, unloaded', splitUnloaded),
        row('MIGRATE, unloaded', migrateUnloaded),
        row('split, loaded', splitLoaded),
        row('MIGRATE, loaded', migrateLoaded),
        `  client p99 (redis-benchmark -c ${CLIENTS} GET+SET, pooled): before ${result.client.beforeP99Ms} ms; during the split ${result.client.splitDuringP99Ms} ms (max ${result.client.splitDuringMaxMs}); during MIGRATE ${result.client.migrateDuringP99Ms} ms (max ${result.client.migrateDuringMaxMs})${result.client.migrateDuringMaxMs >= 3000 || result.client.splitDuringMaxMs >= 3000 ? ' (redis-benchmark caps latencies at 3000 ms: a max of 3000 means at least 3 s)' : ''}`,
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
    process.stderr.write(`bench:split failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
