/**
 * Where the proxy's USER-space CPU goes (JS, V8 builtins, node/libuv C++, libc), by symbol: the proxy runs
 * under `node --perf-basic-prof` (JIT symbols for perf) and `perf record -e cpu-clock:u` samples it while
 * redis-benchmark runs. --cpu-prof (run.ts) charges kernel time to the JS frame that made the syscall; this
 * leaves the kernel out. Prints user µs per request (from /proc) and the top symbols.
 *
 *   npm run build && node --import tsx bench/profile/perf-user.ts
 *   PERF_ARGS="-P 1 -t set -c 50 -n 300000 -d 3"   redis-benchmark flags
 *   PERF_BUILD=/tmp/other/dist                     another build (a dist/)
 *   PERF_TOP=60                                    symbols shown
 *   PERF_CALLERS=Builtins_LoadIC                   who calls that symbol (perf record -g; JIT frames keep frame pointers)
 *   PERF_CONFIG='{"slowlog":{"slowerThan":-1}}'    merged into the proxy's config (JSON)
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BUILD = process.env.PERF_BUILD ?? path.join(ROOT, 'dist');
const ARGS = (process.env.PERF_ARGS ?? '-P 1 -t set -c 50 -n 300000 -d 3').split(/\s+/).filter(Boolean);
const TOP = Number(process.env.PERF_TOP ?? 60);

function run(cmd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', resolve);
  });
}

function userTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[11]);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-perf-'));
  const backends: RedisServerHandle[] = [];
  let proxy: Spawned | undefined;
  try {
    for (let g = 0; g < 2; g++) backends.push(await startRedis());
    const port = await freePort();
    const file = path.join(work, 'proxy.json');
    const per = SLOT_COUNT / 2;
    writeFileSync(
      file,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        admin: '',
        workers: 1,
        topology: { groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })), slots: [[0, per - 1, 1], [per, SLOT_COUNT - 1, 2]] },
        ...(JSON.parse(process.env.PERF_CONFIG ?? '{}') as Record<string, unknown>),
      }),
    );
    proxy = spawnProcess('redslot', process.execPath, ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${path.join(work, 'v8.log')}`, path.join(BUILD, 'deploy/bin/redslot.js'), 'proxy', '--config', file], { ...process.env, REDSLOT_LOG_LEVEL: 'warn' });
    await waitForPort(port, '127.0.0.1', 15_000);
    const bench = ['-h', '127.0.0.1', '-p', String(port), '-r', '100000', ...ARGS, '-q'];
    await run('redis-benchmark', [...bench.filter((a, i) => bench[i - 1] !== '-n' && a !== '-n'), '-n', '50000']); // warm-up (JIT)
    const data = path.join(work, 'perf.data');
    const perf = spawn('perf', ['record', '-e', 'cpu-clock:u', '-F', '999', ...(process.env.PERF_CALLERS ? ['-g'] : []), '-p', String(proxy.pid), '-o', data], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const u0 = userTicks(proxy.pid);
    await run('redis-benchmark', bench);
    const u1 = userTicks(proxy.pid);
    perf.kill('SIGINT');
    await new Promise((r) => perf.on('exit', r));
    const n = Number(ARGS[ARGS.indexOf('-n') + 1] ?? 100000);
    console.log(`${ARGS.join(' ')}: ${(((u1 - u0) / 100) * 1e6 / n).toFixed(2)} µs user CPU per request`);
    const callers = process.env.PERF_CALLERS;
    const rep = spawnSync(
      'perf',
      callers
        ? ['report', '-i', data, '--stdio', '--no-children', '-G', '--symbols', callers, '--percent-limit', '0.1']
        : ['report', '-i', data, '--stdio', '--sort', process.env.PERF_SORT ?? 'sym', '--percent-limit', process.env.PERF_LIMIT ?? '0.3'],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const lines = callers ? rep.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')) : rep.stdout.split('\n').filter((l) => /^\s+\d/.test(l));
    console.log(lines.slice(0, TOP).map((l) => l.replace(/\s+$/, '').slice(0, 160)).join('\n'));
  } finally {
    if (proxy) {
      proxy.child.kill('SIGTERM');
      await proxy.exited;
      spawnSync('rm', ['-f', `/tmp/perf-${proxy.pid}.map`]); // --perf-basic-prof's JIT symbols
    }
    for (const b of backends) await b.stop();
    spawnSync('rm', ['-rf', work]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
