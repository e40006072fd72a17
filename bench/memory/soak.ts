/**
 * Memory under sustained full-speed pipelined load: redis-benchmark (-P 16, -c 50, -r 100000; SET, GET,
 * INCR and MSET, 1M requests each, in a loop) against the compiled proxy for BENCH_SOAK_SECONDS (default 600), sampling the RSS
 * of every proxy process (primary + workers) every BENCH_SOAK_SAMPLE_SECONDS (default 5). The first minute
 * is warm-up (JIT, pools, heap growth); the verdict compares each later sample with the median of the
 * second minute: flat = every later minute's median within 10 % of it.
 *
 *   npm run build && node --import tsx bench/memory/soak.ts
 *   BENCH_SOAK_SECONDS=600 BENCH_SOAK_WORKERS=2 (default: CPUs, like `redslot proxy`)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mb, rssOf, sleep, startProxyUnderTest } from './common.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const EVERY = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 5);
const WORKERS = Number(process.env.BENCH_SOAK_WORKERS ?? os.availableParallelism());

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-soak-'));
  const p = await startProxyUnderTest({ work, workers: WORKERS });
  let bench: ChildProcess | undefined;
  const samples: Array<{ t: number; rss: number; perPid: number[]; commands: number }> = [];
  const commands = async (): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${p.adminPort}/api/v1/proxy`);
    return ((await res.json()) as { stats: { commands: number } }).stats.commands;
  };
  try {
    const pids = [p.proxy.pid, ...(WORKERS > 1 ? await p.pids() : [])];
    bench = spawn('redis-benchmark', ['-h', '127.0.0.1', '-p', String(p.port), '-P', '16', '-c', '50', '-r', '100000', '-n', '1000000', '-l', '-q', '-t', 'set,get,incr,mset'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const t0 = Date.now();
    while (Date.now() - t0 < SECONDS * 1000) {
      await sleep(EVERY * 1000);
      if (bench.exitCode !== null) throw new Error(`redis-benchmark exited early (${bench.exitCode})`);
      const perPid = pids.map(rssOf);
      const s = { t: Math.round((Date.now() - t0) / 1000), rss: perPid.reduce((a, b) => a + b, 0), perPid, commands: await commands() };
      samples.push(s);
      process.stderr.write(`t=${s.t}s rss=${mb(s.rss)} [${perPid.map(mb).join(', ')}] commands ${s.commands} load ${os.loadavg()[0]!.toFixed(1)}\n`);
    }
    const stats = { commands: await commands() };
    // Minutes after the first (warm-up); baseline = the second minute.
    const byMinute = new Map<number, typeof samples>();
    for (const s of samples) {
      const m = Math.min(Math.floor((s.t - 1) / 60), Math.floor(SECONDS / 60) - 1); // the last sample joins the last minute
      if (!byMinute.has(m)) byMinute.set(m, []);
      byMinute.get(m)!.push(s);
    }
    const minutes = [...byMinute.entries()].filter(([m]) => m >= 1).sort((a, b) => a[0] - b[0]);
    const base = minutes.length > 0 ? median(minutes[0]![1].map((x) => x.rss)) : NaN;
    const rows = minutes.map(([m, ss]) => {
      const xs = ss.map((x) => x.rss);
      const prev = samples[samples.indexOf(ss[0]!) - 1] ?? ss[0]!;
      const last = ss[ss.length - 1]!;
      const rate = (last.commands - prev.commands) / Math.max(1, last.t - prev.t);
      return { minute: m + 1, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), drift: (median(xs) - base) / base, rate };
    });
    const worst = rows.reduce((w, r) => Math.max(w, Math.abs(r.drift)), 0);
    const afterWarm = samples.filter((s) => s.t > 60).map((s) => s.rss);
    const lines = [
      `soak: ${SECONDS} s of redis-benchmark -P 16 -c 50 -r 100000 -t set,get,incr,mset --loop against redslot (${WORKERS} worker${WORKERS > 1 ? 's' : ''}), RSS of primary+workers every ${EVERY} s`,
      `commands served: ${stats.commands.toLocaleString('en-US')} (${Math.round(stats.commands / SECONDS).toLocaleString('en-US')}/s average)`,
      `RSS: first sample ${mb(samples[0]?.rss ?? 0)}, after warm-up min ${mb(Math.min(...afterWarm))} / max ${mb(Math.max(...afterWarm))}, last ${mb(samples[samples.length - 1]?.rss ?? 0)}`,
      '',
      '| minute | commands/s | median RSS | min | max | vs minute 2 |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.minute} | ${Math.round(r.rate).toLocaleString('en-US')} | ${mb(r.median)} | ${mb(r.min)} | ${mb(r.max)} | ${(r.drift * 100).toFixed(1)} % |`),
      '',
      `verdict: ${worst <= 0.1 ? 'FLAT' : 'NOT FLAT'} (largest minute-median drift from minute 2: ${(worst * 100).toFixed(1)} %, limit 10 %)`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    writeFileSync(path.join(work, 'samples.json'), JSON.stringify(samples));
    process.stderr.write(`samples: ${work}/samples.json\n`);
  } finally {
    bench?.kill('SIGTERM');
    await p.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
