/**
 * Proxy CPU per MGET of 10 keys across 2 groups (redis-benchmark has no MGET test, so cpu-per-request.ts cannot
 * run it): starts 2 redis-servers and one single-process proxy per build directory given, sets the 10 keys to
 * values of SIZE bytes, then runs `redis-benchmark -n N -c 50 -P P MGET k0..k9` against each proxy in turn,
 * ROUNDS times, and prints each build's µs of proxy CPU (utime + stime) per request, every round and the median.
 *
 *   npm run build && flock /tmp/redslot-test.lock env SIZE=16384 N=20000 ROUNDS=3 P=1 \
 *     node --import tsx bench/profile/mget-cpu.ts /tmp/base7/dist dist
 * ONE_GROUP=1: the 10 keys all on group 1 (different slots): the MGET is forwarded as is, its reply too.
 */
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess } from '../../deploy/local/spawn/process.js';
import { startRedis } from '../../deploy/local/spawn/redis.js';
import { slotOf } from '../../shared/slot.js';

const SIZE = Number(process.env.SIZE ?? 16384);
const N = Number(process.env.N ?? 20000);
const P = process.env.P ?? '1';
const builds = process.argv.slice(2);
/** utime + stime of a process, in clock ticks (1/100 s). */
function ticks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}
const work = mkdtempSync(path.join(os.tmpdir(), 'mget-ab-'));
const rs = [await startRedis(), await startRedis()];
const pxs: Array<{ b: string; pid: number; port: number; stop: () => Promise<void> }> = [];
for (const b of builds) {
  const port = await freePort();
  const file = path.join(work, `p${pxs.length}.json`);
  writeFileSync(file, JSON.stringify({ listen: `127.0.0.1:${port}`, admin: '', workers: 1, topology: { groups: rs.map((r, i) => ({ id: i + 1, servers: [{ addr: r.addr, role: 'master' }] })), slots: [[0, 511, 1], [512, 1023, 2]] } }));
  const proc = spawnProcess('redslot', process.execPath, [path.join(b, 'deploy/bin/redslot.js'), 'proxy', '--config', file], { ...process.env, REDSLOT_LOG_LEVEL: 'warn' });
  await waitForPort(port, '127.0.0.1', 15000);
  pxs.push({ b, pid: proc.pid, port, stop: () => proc.stop(5000) });
}
const keys: string[] = [];
for (let i = 0; keys.length < 10; i++) if (process.env.ONE_GROUP !== '1' || slotOf(Buffer.from(`mk${i}`)) < 512) keys.push(`mk${i}`);
const val = 'v'.repeat(SIZE);
// Warm-up (JIT) and the values, through the first proxy.
for (const k of keys) spawnSync('redis-cli', ['-p', String(pxs[0]!.port), 'SET', k, val], { stdio: 'ignore' });
for (const px of pxs) spawnSync('redis-benchmark', ['-p', String(px.port), '-n', String(N), '-c', '50', '-P', '16', '-q', 'MGET', ...keys], { stdio: 'ignore' });
const res: Record<string, number[]> = {};
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  for (const px of pxs) {
    const c0 = ticks(px.pid);
    spawnSync('redis-benchmark', ['-p', String(px.port), '-n', String(N), '-c', '50', '-P', P, '-q', 'MGET', ...keys], { stdio: 'ignore' });
    const us = ((ticks(px.pid) - c0) * 10000) / N;
    (res[px.b] ??= []).push(us);
  }
}
for (const [b, xs] of Object.entries(res)) console.log(b, xs.map((x) => x.toFixed(1)).join(' '), 'median', [...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(1));
for (const px of pxs) await px.stop();
for (const r of rs) await r.stop();
