/**
 * Proxy CPU per request under a fixed amount of work: starts BENCH_GROUPS redis-servers and one single-process
 * proxy per build directory (CPU_BUILDS, default the checkout's dist/; give two to A/B two builds), then, round
 * by round and interleaved, runs `redis-benchmark -n CPU_REQUESTS -c 50 -r 100000 -P p -t test` against each
 * proxy and reads its CPU time (utime + stime from /proc) before and after. Prints, per build, test and
 * pipeline depth, the median µs of proxy CPU per request (and the rps, for information only: on a shared
 * machine throughput is noise, CPU per request much less so).
 *
 *   npm run build && node --import tsx bench/profile/cpu-per-request.ts
 *   CPU_TESTS=set,get CPU_PIPELINES="1 16" CPU_ROUNDS=5 CPU_REQUESTS=200000
 *   CPU_BUILDS=/tmp/redslot-a/dist,/work/main/dist    A/B two builds (each a dist/ with deploy/bin/redslot.js)
 *   CPU_STRACE=1                                       also count the proxy's syscalls per request (strace -c)
 *   CPU_DATASIZE=1024                                  value size (redis-benchmark -d, default 3)
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BUILDS = (process.env.CPU_BUILDS ?? path.join(ROOT, 'dist')).split(',');
const TESTS = (process.env.CPU_TESTS ?? 'set,get,incr,mset').split(',');
const PIPELINES = (process.env.CPU_PIPELINES ?? '1 16').split(/\s+/).filter(Boolean).map(Number);
const ROUNDS = Number(process.env.CPU_ROUNDS ?? 5);
const REQUESTS = Number(process.env.CPU_REQUESTS ?? 200000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 2);
const DATASIZE = process.env.CPU_DATASIZE ?? '3';
const TICK = 100; // CLK_TCK on Linux

/** [user, system] CPU ticks of a process. */
function cpuTicks(pid: number): [number, number] {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]), Number(f[12])];
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

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-cpu-'));
  const backends: RedisServerHandle[] = [];
  const proxies: Array<{ build: string; proc: Spawned; port: number }> = [];
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
          workers: 1,
          topology: {
            groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
            slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
          },
        }),
      );
      const proc = spawnProcess('redslot', process.execPath, [path.join(build, 'deploy/bin/redslot.js'), 'proxy', '--config', file], { ...process.env, REDSLOT_LOG_LEVEL: 'warn' });
      proxies.push({ build, proc, port });
      await waitForPort(port, '127.0.0.1', 15_000);
      // Warm-up (JIT) with every test.
      for (const t of TESTS) await bench(port, ['-n', '100000', '-c', '50', '-r', '100000', '-d', DATASIZE, '-P', '16', '-t', t]);
    }
    const cpu = new Map<string, number[]>();
    const rps = new Map<string, number[]>();
    const sys = new Map<string, number[]>();
    const loads: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of PIPELINES) {
        for (const t of TESTS) {
          for (const px of proxies) {
            const args = ['-n', String(REQUESTS), '-c', '50', '-r', '100000', '-d', DATASIZE, '-P', String(p), '-t', t];
            const c0 = cpuTicks(px.proc.pid);
            const t0 = performance.now();
            const got = await bench(px.port, args);
            const ms = performance.now() - t0;
            const c1 = cpuTicks(px.proc.pid);
            const k = `${px.build}|${t}|${p}`;
            (cpu.get(k) ?? cpu.set(k, []).get(k)!).push((((c1[0] + c1[1] - c0[0] - c0[1]) / TICK) * 1e6) / REQUESTS);
            (sys.get(k) ?? sys.set(k, []).get(k)!).push((((c1[1] - c0[1]) / TICK) * 1e6) / REQUESTS);
            (rps.get(k) ?? rps.set(k, []).get(k)!).push(Number.isFinite(got) ? got : REQUESTS / (ms / 1000));
            loads.push(os.loadavg()[0]!);
          }
        }
      }
    }
    process.stdout.write(`proxy CPU per request (single process, ${DATASIZE} B values, ${REQUESTS} requests per run, ${ROUNDS} rounds, median; load median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)})\n`);
    process.stdout.write('| build | test | P | µs CPU/req (all rounds) | of which kernel | rps |\n|---|---|---|---|---|---|\n');
    for (const [k, xs] of cpu) {
      const [b, t, p] = k.split('|');
      process.stdout.write(`| ${b} | ${t} | ${p} | ${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(1)).join(' ')}) | ${median(sys.get(k)!).toFixed(2)} | ${Math.round(median(rps.get(k)!))} |\n`);
    }
    if (process.env.CPU_STRACE === '1') {
      for (const px of proxies) {
        for (const p of PIPELINES) {
          for (const t of TESTS) {
            const out = path.join(work, `strace-${t}-${p}.txt`);
            const st = spawn('strace', ['-c', '-f', '-o', out, '-p', String(px.proc.pid)], { stdio: 'ignore' });
            await new Promise((r) => setTimeout(r, 500));
            await bench(px.port, ['-n', String(REQUESTS), '-c', '50', '-r', '100000', '-d', DATASIZE, '-P', String(p), '-t', t]);
            st.kill('SIGINT');
            await new Promise((r) => st.on('exit', r));
            const lines = readFileSync(out, 'utf8').split('\n').filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l));
            const calls = lines.map((l) => {
              const f = l.trim().split(/\s+/);
              return `${f[f.length - 1]} ${(Number(f[3]) / REQUESTS).toFixed(3)}`;
            });
            process.stdout.write(`syscalls per request ${px.build} ${t} P${p}: ${calls.join(', ')}\n`);
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
