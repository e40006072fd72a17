/**
 * Proxy CPU per request under a fixed amount of work: starts BENCH_GROUPS redis-servers, one single-process
 * proxy per build directory (CPU_BUILDS, default the checkout's dist/; give two to A/B two builds) and, as a
 * comparison, twemproxy (nutcracker) over the same servers; then, round by round and interleaved, runs
 * `redis-benchmark -n N -c 50 -r 100000 -d SIZE -P p -t test` against each and reads its CPU time (utime +
 * stime from /proc) before and after. Prints, per value size, test, pipeline depth and build, the median µs of
 * proxy CPU per request, its ratio to twemproxy's in the same rounds (and the rps, for information only: on a
 * shared machine throughput is noise, CPU per request much less so).
 *
 *   npm run build && node --import tsx bench/profile/cpu-per-request.ts
 *   CPU_TESTS=set,get,mset CPU_PIPELINES="1 16" CPU_SIZES="3 1024 16384" CPU_ROUNDS=3 CPU_REQUESTS=100000
 *   CPU_BUILDS=/tmp/redslot-a/dist,/work/main/dist    A/B two builds (each a dist/ with deploy/bin/redslot.js)
 *   CPU_BUILDS="dist,dist --single-threaded-gc"       a build may carry node flags after a space (A/B a V8 flag)
 *   CPU_KEYSPACE=10000                                 keys (-r); filled with SETs of the size before each size's runs
 *   CPU_TWEMPROXY=0                                    leave twemproxy out
 *   CPU_STRACE=1                                       also count the proxy's syscalls per request (strace -c)
 *   CPU_WORKERS=2                                      redslot's `workers` (default 1); CPU and syscalls of the primary and its workers
 *   CPU_CONCURRENT=1                                   run the builds' benchmarks at the same time, not one after the other:
 *                                                      an A/B under the same background load (less noise on a shared machine)
 *
 * CPU_REQUESTS is the count at values up to 1 KB; bigger values run proportionally fewer (at least 20,000)
 * so a 16 KB round takes about as long as a 1 KB one.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import { nutcrackerBinary, startNutcracker } from '../macro/servers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BUILDS = (process.env.CPU_BUILDS ?? path.join(ROOT, 'dist')).split(',');
const TESTS = (process.env.CPU_TESTS ?? 'set,get,mset').split(',');
const PIPELINES = (process.env.CPU_PIPELINES ?? '1 16').split(/\s+/).filter(Boolean).map(Number);
const ROUNDS = Number(process.env.CPU_ROUNDS ?? 3);
const REQUESTS = Number(process.env.CPU_REQUESTS ?? 100000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 2);
const SIZES = (process.env.CPU_SIZES ?? process.env.CPU_DATASIZE ?? '3 1024 16384').split(/\s+/).filter(Boolean).map(Number);
/** Keys the runs spread over; small enough that the fill before each size's runs sets (nearly) every one. */
const KEYSPACE = Number(process.env.CPU_KEYSPACE ?? 10000);
const TWEMPROXY = process.env.CPU_TWEMPROXY !== '0' ? nutcrackerBinary() : undefined;
const WORKERS = Number(process.env.CPU_WORKERS ?? 1);
const CONCURRENT = process.env.CPU_CONCURRENT === '1';

/** Requests per run at a value size: CPU_REQUESTS up to 1 KB, proportionally fewer above. */
function requestsAt(size: number): number {
  return size <= 1024 ? REQUESTS : Math.max(20_000, Math.round((REQUESTS * 1024) / size / 1000) * 1000);
}
const TICK = 100; // CLK_TCK on Linux

/** A process and its children (a proxy's primary and workers). */
function processTree(pid: number): number[] {
  let kids: number[];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    kids = []; // exited meanwhile
  }
  return [pid, ...kids.flatMap(processTree)];
}

/** [user, system] CPU ticks of a process and its children. */
function cpuTicks(pid: number): [number, number] {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    const s = readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    user += Number(f[11]);
    system += Number(f[12]);
  }
  return [user, system];
}

function bench(port: number, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), ...args, '--csv'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('"') && !l.startsWith('"test"'));
      resolve(line ? Number(line.split(',')[1]!.replace(/"/g, '')) : NaN);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Short label of a build directory (its checkout's name). */
function label(build: string): string {
  if (build === 'twemproxy') return build;
  const [dir, ...flags] = build.split(/\s+/);
  return [path.basename(path.dirname(path.resolve(dir!))), ...flags].join(' ');
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-cpu-'));
  const backends: RedisServerHandle[] = [];
  const proxies: Array<{ build: string; proc: Spawned; port: number }> = [];
  const run = (port: number, size: number, p: number, t: string, n: number) =>
    bench(port, ['-n', String(n), '-c', '50', '-r', String(KEYSPACE), '-d', String(size), '-P', String(p), '-t', t]);
  try {
    for (let g = 0; g < GROUPS; g++) backends.push(await startRedis());
    const per = Math.ceil(SLOT_COUNT / GROUPS);
    for (const build of BUILDS) {
      const port = await freePort();
      const file = path.join(work, `proxy-${proxies.length}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          listen: `127.0.0.1:${port}`,
          admin: '',
          workers: WORKERS,
          topology: {
            groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
            slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
          },
        }),
      );
      const [dir, ...nodeFlags] = build.split(/\s+/);
      const proc = spawnProcess('redslot', process.execPath, [...nodeFlags, path.join(dir!, 'deploy/bin/redslot.js'), 'proxy', '--config', file], { ...process.env, REDSLOT_LOG_LEVEL: 'warn' });
      proxies.push({ build, proc, port });
      await waitForPort(port, '127.0.0.1', 15_000);
    }
    if (TWEMPROXY) {
      const tw = await startNutcracker(TWEMPROXY, backends, work);
      proxies.push({ build: 'twemproxy', proc: tw.proc, port: tw.port });
    }
    // Warm-up (JIT) with every test and size.
    for (const px of proxies) for (const size of SIZES) for (const t of TESTS) await run(px.port, size, 16, t, 20_000);
    const cpu = new Map<string, number[]>();
    const rps = new Map<string, number[]>();
    const sys = new Map<string, number[]>();
    const usr = new Map<string, number[]>();
    const loads: number[] = [];
    const add = (m: Map<string, number[]>, k: string, x: number) => (m.get(k) ?? m.set(k, []).get(k)!).push(x);
    for (let r = 0; r < ROUNDS; r++) {
      for (const size of SIZES) {
        const n = requestsAt(size);
        // GET reads values of this size: fill the keyspace first (unmeasured; through each proxy, as twemproxy
        // places keys differently).
        if (TESTS.includes('get')) for (const px of proxies) await run(px.port, size, 16, 'set', 3 * KEYSPACE);
        for (const p of PIPELINES) {
          for (const t of TESTS) {
            const measure = async (px: (typeof proxies)[number]): Promise<void> => {
              const c0 = cpuTicks(px.proc.pid);
              const t0 = performance.now();
              const got = await run(px.port, size, p, t, n);
              const ms = performance.now() - t0;
              const c1 = cpuTicks(px.proc.pid);
              const k = `${size}|${t}|${p}|${px.build}`;
              add(cpu, k, (((c1[0] + c1[1] - c0[0] - c0[1]) / TICK) * 1e6) / n);
              add(sys, k, (((c1[1] - c0[1]) / TICK) * 1e6) / n);
              add(usr, k, (((c1[0] - c0[0]) / TICK) * 1e6) / n);
              add(rps, k, Number.isFinite(got) ? got : n / (ms / 1000));
              loads.push(os.loadavg()[0]!);
            };
            // Side by side: every proxy under the same load at the same time (paired A/B on a shared machine).
            if (CONCURRENT) await Promise.all(proxies.map(measure));
            else for (const px of proxies) await measure(px);
          }
        }
      }
    }
    process.stdout.write(
      `proxy CPU per request (${WORKERS === 1 ? 'single process' : `${WORKERS} workers`}; ${REQUESTS} requests per run up to 1 KB values, fewer above; ${ROUNDS} ${CONCURRENT ? 'concurrent' : 'interleaved'} rounds, median; ` +
        `load median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}; ${new Date().toISOString()})\n`,
    );
    process.stdout.write('| value | test | P | build | µs CPU/req (all rounds) | of which kernel | user (all rounds) | vs twemproxy | rps |\n|---|---|---|---|---|---|---|---|---|\n');
    for (const [k, xs] of cpu) {
      const [size, t, p, b] = k.split('|');
      const tw = cpu.get(`${size}|${t}|${p}|twemproxy`);
      const vs = tw && b !== 'twemproxy' ? (median(xs) / median(tw)).toFixed(2) : '';
      process.stdout.write(
        `| ${size} B | ${t} | ${p} | ${label(b!)} | ${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(1)).join(' ')}) | ${median(sys.get(k)!).toFixed(2)} | ${median(usr.get(k)!).toFixed(2)} (${usr.get(k)!.map((x) => x.toFixed(1)).join(' ')}) | ${vs} | ${Math.round(median(rps.get(k)!))} |\n`,
      );
    }
    if (process.env.CPU_STRACE === '1') {
      for (const px of proxies) {
        for (const size of SIZES) {
          const n = requestsAt(size);
          for (const p of PIPELINES) {
            for (const t of TESTS) {
              const out = path.join(work, `strace-${t}-${p}.txt`);
              const st = spawn('strace', ['-c', '-f', '-o', out, ...processTree(px.proc.pid).flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
              await new Promise((r) => setTimeout(r, 500));
              await run(px.port, size, p, t, n);
              st.kill('SIGINT');
              await new Promise((r) => st.on('exit', r));
              const lines = readFileSync(out, 'utf8').split('\n').filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l));
              const calls = lines.map((l) => {
                const f = l.trim().split(/\s+/);
                return `${f[f.length - 1]} ${(Number(f[3]) / n).toFixed(3)}`;
              });
              process.stdout.write(`syscalls per request ${label(px.build)} ${size} B ${t} P${p}: ${calls.join(', ')}\n`);
            }
          }
        }
      }
    }
  } finally {
    await Promise.all(proxies.map((p) => p.proc.stop(30_000)));
    await Promise.all(backends.map((b) => b.stop()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
