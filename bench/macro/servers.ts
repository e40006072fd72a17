/**
 * The processes a benchmark run needs: one direct redis-server (the baseline), the backend groups, a redslot
 * proxy from dist/ over them, and nutcracker (twemproxy) over the same backends when it is installed.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, stopAll, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import { autoWorkers } from '../../proxy/workers/cpus.js';
import { issueCert, makeCa } from '../../shared/tls/certs.js';

export interface Target {
  label: string;
  host: string;
  port: number;
  /** RB_WATCH value: name=pid pairs whose CPU resp-bench reports. */
  watch: string;
  /** Extra environment for resp-bench.sh (the TLS target's redis-benchmark / redis-cli wrappers). */
  env?: Record<string, string>;
}

export interface Started {
  targets: Target[];
  /** redslot's worker processes (1 = single process), when redslot runs. */
  redslotWorkers?: number;
  stop(): Promise<void>;
}

/** Worker pids of a multi-process redslot, from its admin API (empty for a single process). */
async function workerPids(adminPort: number, expect: number): Promise<number[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy`);
      const j = (await res.json()) as { workers?: Array<{ pid: number; state: string }> };
      const w = j.workers ?? [];
      if (w.length === 0 && expect <= 1) return [];
      if (w.length === expect && w.every((x) => x.pid > 0 && x.state === 'serving')) return w.map((x) => x.pid);
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error('redslot workers did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A CA and proxy certificate for the TLS target, and redis-benchmark / redis-cli wrappers that trust it. */
async function benchTls(work: string): Promise<{ cert: string; key: string; port: number; env: Record<string, string> }> {
  const ca = makeCa(path.join(work, 'tls'));
  const cert = issueCert(ca, 'proxy');
  const wrap = (name: string, bin: string) => {
    const f = path.join(work, `${name}-tls.sh`);
    writeFileSync(f, `#!/bin/sh\nexec ${bin} --tls --cacert '${ca.cert}' "$@"\n`, { mode: 0o755 });
    return f;
  };
  return { ...cert, port: await freePort(), env: { RB_BENCH: wrap('redis-benchmark', 'redis-benchmark'), RB_CLI: wrap('redis-cli', 'redis-cli') } };
}

const GROUPS = Number(process.env.BENCH_GROUPS ?? 2);
const PROXY_WORKERS = process.env.BENCH_PROXY_WORKERS;
/**
 * BENCH_PROXY_CPUS=1: the proxies (redslot, twemproxy) run pinned to these CPUs (`taskset -c`), to simulate a
 * proxy host of its own; run the benchmark itself under `taskset -c 0` so the load and the servers stay off them.
 */
const PROXY_CPUS = process.env.BENCH_PROXY_CPUS;

/** The command line for a proxy process, pinned when BENCH_PROXY_CPUS is set (taskset execs: same pid). */
function proxyCommand(bin: string, args: string[]): [string, string[]] {
  return PROXY_CPUS ? ['taskset', ['-c', PROXY_CPUS, bin, ...args]] : [bin, args];
}

/** nutcracker (twemproxy) over `backends`, keys spread by ketama, listening on a free loopback port. */
export async function startNutcracker(bin: string, backends: RedisServerHandle[], work: string): Promise<{ proc: Spawned; port: number }> {
  const port = await freePort();
  const statsPort = await freePort();
  const conf = [
    'redslot_bench:',
    `  listen: 127.0.0.1:${port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  auto_eject_hosts: false',
    '  servers:',
    ...backends.map((b) => `   - ${b.addr}:1`),
  ].join('\n');
  const file = path.join(work, 'nutcracker.yml');
  writeFileSync(file, conf + '\n');
  const proc = spawnProcess('nutcracker', ...proxyCommand(bin, ['-c', file, '-s', String(statsPort), '-v', '2']));
  await waitForPort(port);
  return { proc, port };
}

export function nutcrackerBinary(): string | undefined {
  for (const p of ['/usr/sbin/nutcracker', '/usr/bin/nutcracker']) if (existsSync(p)) return p;
  return undefined;
}

export async function startServers(opts: { root: string; work: string; targets: string[] }): Promise<Started> {
  const redises: RedisServerHandle[] = [];
  const procs: Spawned[] = [];
  const targets: Target[] = [];
  let redslotWorkers: number | undefined;
  const stop = async () => {
    await stopAll(procs);
    await Promise.all(redises.map((r) => r.stop()));
  };
  try {
    if (opts.targets.includes('direct')) {
      // Room for the 10,000-connection variant (Redis caps maxclients by its own open-files limit).
      const direct = await startRedis(['--maxclients', '10500']);
      redises.push(direct);
      targets.push({ label: 'direct', host: direct.host, port: direct.port, watch: `redis=${direct.proc.pid}` });
    }
    const backends: RedisServerHandle[] = [];
    for (let g = 0; g < GROUPS; g++) backends.push(await startRedis());
    redises.push(...backends);
    const backendWatch = backends.map((b, i) => `backend${i + 1}=${b.proc.pid}`).join(',');

    // `redslot` (workers from BENCH_PROXY_WORKERS or the config default), or `redslot@N` / `redslot@Nnone`
    // (`redslot@1=/other/dist`: that build)
    // (N workers; "none" = NODE_CLUSTER_SCHED_POLICY=none) to compare configurations in one interleaved run.
    // `redslot-tls`: the same proxy with TLS served beside the plain port (tls.listen), measured over TLS.
    for (const spec of opts.targets.filter((t) => t === 'redslot' || t.startsWith('redslot@') || t === 'redslot-tls')) {
      const m = /^redslot(?:-tls)?(?:@(\d+)(none)?)?(?:=(.+))?$/.exec(spec);
      if (!m) throw new Error(`bad target ${spec} (redslot, redslot@N, redslot@Nnone, optionally =BUILD_DIST)`);
      // `=DIR`: another build's dist/ (an A/B in one interleaved run), labelled with its checkout's name.
      const dist = m[3] ?? path.join(opts.root, 'dist');
      const label = m[3] ? `${spec.slice(0, spec.indexOf('='))}~${path.basename(path.dirname(path.resolve(m[3])))}` : spec;
      // `redslot` alone runs the product's default (`workers: auto`, proxy/workers/cpus.ts) as this machine gives it
      // (with BENCH_PROXY_CPUS, set BENCH_PROXY_WORKERS: the pinned proxy's CPUs are not this process's).
      const workers = m[1] ? Number(m[1]) : PROXY_WORKERS ? Number(PROXY_WORKERS) : autoWorkers();
      const port = await freePort();
      const admin = await freePort();
      const per = Math.ceil(SLOT_COUNT / GROUPS);
      const tls = spec === 'redslot-tls' ? await benchTls(opts.work) : null;
      const config = {
        listen: `127.0.0.1:${port}`,
        admin: `127.0.0.1:${admin}`,
        limits: { maxClients: 20_000 },
        workers,
        ...(tls ? { tls: { cert: tls.cert, key: tls.key, listen: `127.0.0.1:${tls.port}` } } : {}),
        topology: {
          groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
          slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
        },
      };
      const file = path.join(opts.work, `proxy-${targets.length}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      const proxy = spawnProcess('redslot', ...proxyCommand(process.execPath, [path.join(dist, 'deploy/bin/redslot.js'), 'proxy', '--config', file]), {
        ...process.env,
        REDSLOT_LOG_LEVEL: 'warn',
        ...(m[2] ? { NODE_CLUSTER_SCHED_POLICY: 'none' } : {}),
      });
      procs.push(proxy);
      await waitForPort(port, '127.0.0.1', 15_000).catch((err: unknown) => {
        throw new Error(`proxy did not start: ${proxy.log()}`, { cause: err });
      });
      if (spec === 'redslot') redslotWorkers = workers;
      // CPU of the proxy = the primary + every worker (run.ts adds up every proxy* column).
      const pids = workers > 1 ? await workerPids(admin, workers) : [];
      const watch = [`proxy=${proxy.pid}`, ...pids.map((pid, i) => `proxyw${i}=${pid}`)].join(',');
      if (tls) await waitForPort(tls.port, '127.0.0.1', 15_000);
      targets.push({ label, host: '127.0.0.1', port: tls?.port ?? port, watch: `${watch},${backendWatch}`, ...(tls ? { env: tls.env } : {}) });
    }

    const nut = nutcrackerBinary();
    if (opts.targets.includes('twemproxy') && nut) {
      const tw = await startNutcracker(nut, backends, opts.work);
      procs.push(tw.proc);
      targets.push({ label: 'twemproxy', host: '127.0.0.1', port: tw.port, watch: `proxy=${tw.proc.pid},${backendWatch}` });
    } else if (opts.targets.includes('twemproxy')) {
      process.stderr.write('bench: nutcracker not installed (bash deploy/local/install-deps.sh --bench): skipping twemproxy\n');
    }
    return { targets, stop, redslotWorkers };
  } catch (err) {
    await stop();
    throw err;
  }
}
