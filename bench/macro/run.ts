/**
 * Macro benchmark: the fixed matrix of ../shared/bench/resp-bench.sh against direct Redis, redslot and
 * (when installed) twemproxy, interleaved over several rounds on the same machine, reported as medians and
 * ratios to direct Redis from the same run.
 *
 *   npm run bench                      3 rounds, 2 backend groups, default matrix
 *   BENCH_ROUNDS=7 npm run bench       more rounds (the machine is shared and noisy: prefer medians of many)
 *   BENCH_TARGETS=direct,redslot       skip twemproxy
 *   RB_DATASIZE=1024 / RB_CLIENTS=1000 the matrix variants (passed through to resp-bench.sh)
 *
 * Needs `npm run build` first (the proxy runs from dist/, as in production).
 */
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startServers, type Started } from './servers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const RESP_BENCH = process.env.RESP_BENCH ?? path.resolve(ROOT, '../shared/bench/resp-bench.sh');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGETS = (process.env.BENCH_TARGETS ?? 'direct,redslot,twemproxy').split(',');

interface Row {
  label: string;
  test: string;
  pipeline: number;
  requests: number;
  wall: number;
  rps: number;
  p50: number;
  p99: number;
  proxyCpuPct?: number;
}

function runRespBench(host: string, port: number, label: string, watch: string): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RESP_BENCH, host, String(port), label], {
      env: { ...process.env, RB_WATCH: watch },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`resp-bench.sh exited ${code}`));
      const lines = out.trim().split('\n');
      const header = (lines.shift() ?? '').split(',');
      const col = (name: string) => header.indexOf(name);
      const rows: Row[] = [];
      for (const line of lines) {
        const f = line.split(',');
        const num = (name: string) => Number(f[col(name)] ?? NaN);
        const proxyCol = col('proxy_cpu_pct');
        rows.push({
          label,
          test: f[col('test')] ?? '?',
          pipeline: num('pipeline'),
          requests: num('requests'),
          wall: num('wall_s'),
          rps: num('rps'),
          p50: num('p50_ms'),
          p99: num('p99_ms'),
          proxyCpuPct: proxyCol >= 0 && f[proxyCol] !== '' ? Number(f[proxyCol]) : undefined,
        });
      }
      resolve(rows);
    });
  });
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  if (!existsSync(RESP_BENCH)) throw new Error(`resp-bench.sh not found at ${RESP_BENCH} (set RESP_BENCH)`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-bench-'));
  const servers: Started = await startServers({ root: ROOT, work, targets: TARGETS });
  const all: Row[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of servers.targets) {
        process.stderr.write(`\n== round ${round}/${ROUNDS}: ${t.label} (${t.host}:${t.port})\n`);
        all.push(...(await runRespBench(t.host, t.port, t.label, t.watch)));
      }
    }
  } finally {
    await servers.stop();
  }
  const report = render(all, servers.targets.map((t) => t.label));
  process.stdout.write(report);
  writeFileSync(path.join(work, 'report.md'), report);
  writeFileSync(path.join(work, 'raw.json'), JSON.stringify(all, null, 1));
  process.stderr.write(`\nraw results: ${work}/raw.json\n`);
}

function render(rows: Row[], labels: string[]): string {
  const keys = [...new Set(rows.map((r) => `${r.pipeline}|${r.test}`))];
  const out: string[] = [];
  out.push(`rounds: ${ROUNDS}; values: ${process.env.RB_DATASIZE ?? 3} B; clients: ${process.env.RB_CLIENTS ?? 50}; medians; ratio = rps / direct rps`);
  out.push('');
  const head = ['test', 'P'];
  for (const l of labels) head.push(`${l} rps`, ...(l === 'direct' ? [] : [`${l} ratio`]));
  head.push('redslot p99 ms', 'redslot CPU µs/req');
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const k of keys) {
    const [p, test] = k.split('|');
    const pick = (label: string) => rows.filter((r) => r.label === label && `${r.pipeline}|${r.test}` === k);
    const direct = median(pick('direct').map((r) => r.rps));
    const cells = [test!, p!];
    for (const l of labels) {
      const rps = median(pick(l).map((r) => r.rps));
      cells.push(Number.isFinite(rps) ? Math.round(rps).toLocaleString('en-US') : '-');
      if (l !== 'direct') cells.push(Number.isFinite(rps / direct) ? (rps / direct).toFixed(2) : '-');
    }
    const rs = pick('redslot');
    cells.push(median(rs.map((r) => r.p99)).toFixed(2));
    const cpu = median(rs.map((r) => (r.proxyCpuPct !== undefined ? ((r.proxyCpuPct / 100) * r.wall * 1e6) / r.requests : NaN)));
    cells.push(Number.isFinite(cpu) ? cpu.toFixed(2) : '-');
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out.join('\n') + '\n';
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
