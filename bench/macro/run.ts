/**
 * Macro benchmark: the fixed matrix of ../shared/bench/resp-bench.sh (SET, GET, INCR, LPUSH on one hot key,
 * MSET of 10 keys; pipeline 1 and 16; -c 50 -r 100000) against direct Redis, redslot and twemproxy
 * (nutcracker) over the same backends, interleaved round by round on the same machine, reported as medians
 * and ratios to direct Redis from the same run, with each proxy's CPU per request.
 *
 *   npm run bench                          SET, GET, MSET at 3 B, 1 KB and 16 KB values, P1 and P16, 3 interleaved
 *                                          rounds of 1 s runs (RB_TESTS, RB_SECONDS, BENCH_ROUNDS to widen): ~14 min
 *                                          with 3 targets, two thirds of it the 16 KB variant (BENCH_VARIANTS=base,1k: ~5)
 *   BENCH_PROFILE=full npm run bench       all five tests, 3 s runs, BENCH_ROUNDS (default 5) rounds of 3 B values,
 *                                          BENCH_VARIANT_ROUNDS (default 3) of 1 KB, 16 KB, 1,000 and 10,000 clients
 *   BENCH_VARIANTS=base,1k,16k,c1000,c10000   pick variants
 *   BENCH_TARGETS=direct,redslot           skip twemproxy (redslot-tls: the proxy measured over TLS; redslot@N: N
 *                                          workers; redslot@1=/other/checkout/dist: another build, A/B in one run)
 *   BENCH_PROXY_CPUS=1                     pin the proxies to CPU 1 (run the whole under `taskset -c 0`)
 *   BENCH_PROXY_WORKERS=1                  redslot worker processes (default: the config default, = CPUs)
 *   BENCH_GROUPS=2                         backend redis-servers behind each proxy
 *   RB_SECONDS / RB_TESTS / RB_PIPELINES   passed through to resp-bench.sh
 *
 * CPU per request = (CPU time of the proxy's processes over the measured run) / requests: for redslot the
 * primary plus every worker, for twemproxy its one process. Needs `npm run build` first (the proxy runs from
 * dist/, as in production); run.sh raises `ulimit -n` for the 10,000-connection variant.
 */
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startServers, type Started } from './servers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const RESP_BENCH = process.env.RESP_BENCH ?? path.resolve(ROOT, '../shared/bench/resp-bench.sh');
const FULL = process.env.BENCH_PROFILE === 'full';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (FULL ? 5 : 3));
const VARIANT_ROUNDS = Number(process.env.BENCH_VARIANT_ROUNDS ?? 3);
/** The default profile: the three commands the targets name, short runs, so all sizes fit in a few minutes. */
const DEFAULT_PROFILE_ENV: Record<string, string> = FULL ? {} : { RB_TESTS: process.env.RB_TESTS ?? 'set,get,mset', RB_SECONDS: process.env.RB_SECONDS ?? '1' };
const TARGETS = (process.env.BENCH_TARGETS ?? 'direct,redslot,twemproxy').split(',');

interface Variant {
  name: string;
  title: string;
  env: Record<string, string>;
  /** Open file descriptors the variant needs (its clients, on each side of a proxy). */
  fds: number;
}

function fdLimit(): number {
  const r = spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return r.stdout.trim() === 'unlimited' ? Infinity : Number.isFinite(n) ? n : 0;
}

const VARIANTS: Record<string, Variant> = {
  base: { name: 'base', title: '3 B values, 50 clients', env: {}, fds: 0 },
  // A smaller keyspace for big values: the SET run before GET covers (nearly) every key, so GET returns
  // values of the variant's size rather than misses and smaller values left by other variants.
  '1k': { name: '1k', title: '1 KB values, 50 clients, 10,000 keys', env: { RB_DATASIZE: '1024', RB_KEYSPACE: '10000' }, fds: 0 },
  '16k': { name: '16k', title: '16 KB values, 50 clients, 10,000 keys', env: { RB_DATASIZE: '16384', RB_KEYSPACE: '10000' }, fds: 0 },
  c1000: { name: 'c1000', title: '3 B values, 1,000 clients', env: { RB_CLIENTS: '1000' }, fds: 2200 },
  c10000: { name: 'c10000', title: '3 B values, 10,000 clients', env: { RB_CLIENTS: '10000', RB_SECONDS: process.env.RB_SECONDS ?? '5' }, fds: 10200 },
};

function chosenVariants(): Variant[] {
  const list = process.env.BENCH_VARIANTS ?? (FULL ? 'base,1k,16k,c1000,c10000' : 'base,1k,16k');
  return list.split(',').map((n) => {
    const v = VARIANTS[n.trim()];
    if (!v) throw new Error(`unknown variant ${n} (have: ${Object.keys(VARIANTS).join(', ')})`);
    return v;
  });
}

interface Row {
  variant: string;
  label: string;
  test: string;
  pipeline: number;
  requests: number;
  wall: number;
  rps: number;
  p50: number;
  p99: number;
  /** Sum of the CPU% of every watched process whose name starts with "proxy". */
  proxyCpuPct?: number;
  backendCpuPct?: number;
  notes: string;
}

function runRespBench(host: string, port: number, label: string, watch: string, variant: Variant, targetEnv: Record<string, string> = {}): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RESP_BENCH, host, String(port), label], {
      env: { ...process.env, ...DEFAULT_PROFILE_ENV, ...variant.env, ...targetEnv, RB_WATCH: watch },
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
      const proxyCols = header.map((h, i) => (h.startsWith('proxy') && h.endsWith('_cpu_pct') ? i : -1)).filter((i) => i >= 0);
      const backendCols = header.map((h, i) => (h.startsWith('backend') && h.endsWith('_cpu_pct') ? i : -1)).filter((i) => i >= 0);
      const sumCols = (f: string[], cols: number[]) => {
        if (cols.length === 0 || cols.some((i) => f[i] === '' || f[i] === undefined)) return undefined;
        return cols.reduce((n, i) => n + Number(f[i]), 0);
      };
      const rows: Row[] = [];
      for (const line of lines) {
        const f = line.split(',');
        const num = (name: string) => (f[col(name)] === '' ? NaN : Number(f[col(name)] ?? NaN));
        rows.push({
          variant: variant.name,
          label,
          test: f[col('test')] ?? '?',
          pipeline: num('pipeline'),
          requests: num('requests'),
          wall: num('wall_s'),
          rps: num('rps'),
          p50: num('p50_ms'),
          p99: num('p99_ms'),
          proxyCpuPct: sumCols(f, proxyCols),
          backendCpuPct: sumCols(f, backendCols),
          notes: f[col('notes')] ?? '',
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

function loadavg(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  if (!existsSync(RESP_BENCH)) throw new Error(`resp-bench.sh not found at ${RESP_BENCH} (set RESP_BENCH)`);
  const limit = fdLimit();
  const variants = chosenVariants().filter((v) => {
    if (v.fds <= limit) return true;
    process.stderr.write(`bench: skipping ${v.title}: needs ulimit -n >= ${v.fds} (have ${limit}; run.sh raises it to the hard limit)\n`);
    return false;
  });
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-bench-'));
  const servers: Started = await startServers({ root: ROOT, work, targets: TARGETS });
  const all: Row[] = [];
  const started = new Date();
  const loadStart = loadavg();
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(os.loadavg()[0]!), 5000);
  try {
    for (const v of variants) {
      const rounds = v.name === 'base' || !FULL ? ROUNDS : VARIANT_ROUNDS;
      for (let round = 1; round <= rounds; round++) {
        for (const t of servers.targets) {
          process.stderr.write(`\n== ${v.title}: round ${round}/${rounds}: ${t.label} (${t.host}:${t.port}), load ${loadavg()}\n`);
          all.push(...(await runRespBench(t.host, t.port, t.label, t.watch, v, t.env)));
        }
      }
    }
  } finally {
    clearInterval(sampler);
    await servers.stop();
  }
  const labels = servers.targets.map((t) => t.label);
  const header = [
    `redslot macro benchmark, ${started.toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}`,
    `redslot workers: ${servers.redslotWorkers ?? '-'}; backends: ${process.env.BENCH_GROUPS ?? 2}; rounds: ${FULL ? `${ROUNDS} (base), ${VARIANT_ROUNDS} (variants)` : `${ROUNDS} (${DEFAULT_PROFILE_ENV.RB_TESTS}, ${DEFAULT_PROFILE_ENV.RB_SECONDS} s runs)`}; medians; ratio = rps / direct rps of the same rounds`,
    `load average at start: ${loadStart}; at end: ${loadavg()}; 1-min load sampled during the run: median ${median(loads).toFixed(2)}, max ${Math.max(...loads, 0).toFixed(2)}`,
    '',
  ];
  const report = header.join('\n') + variants.map((v) => render(all.filter((r) => r.variant === v.name), labels, v)).join('\n');
  process.stdout.write(report);
  writeFileSync(path.join(work, 'report.md'), report);
  writeFileSync(path.join(work, 'raw.json'), JSON.stringify(all, null, 1));
  process.stderr.write(`\nreport: ${work}/report.md, raw results: ${work}/raw.json\n`);
}

function cpuPerRequest(rows: Row[]): number {
  return median(rows.map((r) => (r.proxyCpuPct !== undefined ? ((r.proxyCpuPct / 100) * r.wall * 1e6) / r.requests : NaN)));
}

function render(rows: Row[], labels: string[], v: Variant): string {
  const keys = [...new Set(rows.map((r) => `${r.pipeline}|${r.test}`))];
  const proxies = labels.filter((l) => l !== 'direct');
  const out: string[] = [`### ${v.title}`, ''];
  const head = ['test', 'P', 'direct rps'];
  for (const l of proxies) head.push(`${l} rps`, `${l} ratio`);
  for (const l of proxies) head.push(`${l} CPU µs/req`);
  head.push(`${proxies.find((l) => l.startsWith('redslot') && !l.includes('~')) ?? 'redslot'} p50 / p99 ms`);
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  const notes = new Set<string>();
  for (const k of keys) {
    const [p, test] = k.split('|');
    const pick = (label: string) => rows.filter((r) => r.label === label && `${r.pipeline}|${r.test}` === k);
    for (const l of labels) for (const r of pick(l)) if (r.notes && r.notes !== 'config_get_failed') notes.add(`${l} ${test} P${p}: ${r.notes}`);
    const direct = median(pick('direct').map((r) => r.rps));
    const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
    const cells = [test!, p!, fmt(direct)];
    for (const l of proxies) {
      const rps = median(pick(l).map((r) => r.rps));
      cells.push(fmt(rps), Number.isFinite(rps / direct) ? (rps / direct).toFixed(2) : '-');
    }
    for (const l of proxies) {
      const cpu = cpuPerRequest(pick(l));
      cells.push(Number.isFinite(cpu) ? cpu.toFixed(2) : '-');
    }
    const rs = pick(proxies.find((l) => l.startsWith('redslot') && !l.includes('~')) ?? 'redslot');
    cells.push(rs.length ? `${median(rs.map((r) => r.p50)).toFixed(2)} / ${median(rs.map((r) => r.p99)).toFixed(2)}` : '-');
    out.push(`| ${cells.join(' | ')} |`);
  }
  if (notes.size) out.push('', 'notes: ' + [...notes].join('; '));
  return out.join('\n') + '\n';
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
