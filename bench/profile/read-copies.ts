/**
 * Client request bytes the proxy copies after reading them (proxy/session/client-reads.ts `readCopies`: into
 * the client arena, and into carry buffers for requests spanning reads), per request (T: mset, of 10 keys, or set): an in-process
 * proxy over 2 redis-servers, loaded by redis-benchmark (async: the proxy shares this process's event loop).
 *
 *   flock /tmp/redslot-test.lock env D=16384 PS="1 16" N=3000 T=mset node --import tsx bench/profile/read-copies.ts
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { readCopies } from '../../proxy/session/client-reads.js';
import { startRedis } from '../../deploy/local/spawn/redis.js';
import { setLogLevel } from '../../shared/log.js';

const run = promisify(execFile);
setLogLevel('silent');
const rs = [await startRedis(), await startRedis()];
const groups = rs.map((r, i) => ({ id: i + 1, servers: [{ addr: r.addr, role: 'master' }] }));
const config = loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '', topology: { groups, slots: [[0, 511, 1], [512, 1023, 2]] } } });
const proxy = await startProxy({ config, defaultMetrics: false });
const d = process.env.D ?? '16384';
const n = Number(process.env.N ?? 3000);
const t = process.env.T ?? 'mset';
for (const p of (process.env.PS ?? '1 16').split(/\s+/).filter(Boolean)) {
  const a0 = readCopies.arena;
  const c0 = readCopies.carried;
  await run('redis-benchmark', ['-p', String(proxy.port), '-n', String(n), '-c', '50', '-P', p, '-d', d, '-r', '10000', '-t', t, '-q']);
  const kb = (x: number) => (x / n / 1024).toFixed(1);
  console.log(`${t === 'mset' ? 'MSET 10 x' : t.toUpperCase()} ${d} B -P ${p}: per request, ${kb(readCopies.arena - a0)} KB copied into the arena, ${kb(readCopies.carried - c0)} KB into carry buffers`);
}
await proxy.close({ deadlineMs: 1000 });
for (const r of rs) await r.stop();
