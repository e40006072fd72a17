/**
 * Memory per idle client connection: RSS of the proxy with no clients, then with N (default 10,000) idle
 * clients connected (each has sent one PING, so its session, decoder and socket buffers exist), both after a
 * full GC; bytes per connection = the difference / N. Single process by default (the figure is per
 * process; with workers each holds its share of the connections).
 *
 *   npm run build && bash -c 'ulimit -n 30000; node --import tsx bench/memory/idle-connections.ts'
 *   IDLE_CONNECTIONS=10000 IDLE_WORKERS=1
 *
 * Needs ~N open files in this process and in the proxy (run.sh-style `ulimit -n` raise).
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mb, rssOf, sleep, startProxyUnderTest } from './common.js';

const N = Number(process.env.IDLE_CONNECTIONS ?? 10_000);
const WORKERS = Number(process.env.IDLE_WORKERS ?? 1);

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function gcAndMeasure(adminPort: number, pids: number[]): Promise<Mem> {
  let heapUsed = 0;
  let external = 0;
  let arrayBuffers = 0;
  if (WORKERS <= 1) {
    // Twice: the first run frees what finalizers release.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy/gc`, { method: 'POST' });
      const j = (await res.json()) as { heapUsed: number; external: number; arrayBuffers: number };
      heapUsed = j.heapUsed;
      external = j.external;
      arrayBuffers = j.arrayBuffers;
      await sleep(200);
    }
  } else {
    await sleep(2000);
  }
  return { rss: pids.reduce((n, p) => n + rssOf(p), 0), heapUsed, external, arrayBuffers };
}

function connectOne(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('connect', () => {
      s.write('*1\r\n$4\r\nPING\r\n');
      s.once('data', () => {
        s.off('error', reject);
        s.on('error', () => {});
        resolve(s);
      });
    });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-idle-'));
  const p = await startProxyUnderTest({ work, workers: WORKERS, nodeArgs: ['--expose-gc'] });
  const sockets: net.Socket[] = [];
  try {
    const pids = await p.pids();
    // Warm up the data path (JIT, pools, backend connections) so the baseline is not the cold process.
    const warm = await Promise.all(Array.from({ length: 50 }, () => connectOne(p.port)));
    for (const s of warm) s.destroy();
    await sleep(500);
    const before = await gcAndMeasure(p.adminPort, pids);
    const t0 = Date.now();
    for (let i = 0; i < N; i += 500) {
      const batch = await Promise.all(Array.from({ length: Math.min(500, N - i) }, () => connectOne(p.port)));
      sockets.push(...batch);
    }
    const connectMs = Date.now() - t0;
    await sleep(1000);
    const after = await gcAndMeasure(p.adminPort, pids);
    const per = (after.rss - before.rss) / N;
    const lines = [
      `idle client connections: ${N} (proxy workers: ${WORKERS}; connected in ${(connectMs / 1000).toFixed(1)} s)`,
      `RSS before: ${mb(before.rss)}, with ${N} idle clients: ${mb(after.rss)} -> ${Math.round(per)} bytes per connection (RSS)`,
      WORKERS <= 1
        ? `JS heap used: ${mb(before.heapUsed)} -> ${mb(after.heapUsed)} (${Math.round((after.heapUsed - before.heapUsed) / N)} B/conn); external: ${mb(before.external)} -> ${mb(after.external)}; arrayBuffers: ${mb(before.arrayBuffers)} -> ${mb(after.arrayBuffers)}`
        : '(heap figures only with IDLE_WORKERS=1)',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const s of sockets) s.destroy();
    await p.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
