/**
 * redis-benchmark as a load generator and latency probe for the benchmarks (bench/migration, bench/split):
 * one run parsed from its full report (throughput, p50/p99/max and the latency distribution per test), and
 * the p99 of several runs pooled.
 */
import { spawn } from 'node:child_process';

export interface BenchRow {
  test: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** Requests of the run. */
  count: number;
  /** Latency CDF points [ms, cumulative count] from redis-benchmark's two distribution tables (pooling). */
  cdf: Array<[number, number]>;
}

/**
 * One redis-benchmark run (GET and SET) against host:port, parsed from its full report (not --csv): per test
 * the throughput, p50/p99/max and the latency distribution, so runs can be pooled (pooledP99).
 */
export function redisBenchmark(o: { port: number; requests: number; clients: number; keyspace: number }): Promise<BenchRow[]> {
  return new Promise((resolve, reject) => {
    const args = ['-h', '127.0.0.1', '-p', String(o.port), '-t', 'set,get', '-n', String(o.requests), '-c', String(o.clients), '-r', String(o.keyspace), '-d', '16'];
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`redis-benchmark exited ${code}: ${err.slice(-500)}`));
      const rows: BenchRow[] = [];
      for (const section of out.split(/====== /).slice(1)) {
        const test = section.slice(0, section.indexOf(' '));
        const cdf: Array<[number, number]> = [];
        for (const m of section.matchAll(/<= ([\d.]+) milliseconds \(cumulative count (\d+)\)/g)) cdf.push([Number(m[1]), Number(m[2])]);
        cdf.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const rps = /throughput summary: ([\d.]+) requests per second/.exec(section);
        const lat = /avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/.exec(section);
        const count = /(\d+) requests completed/.exec(section);
        if (!rps || !lat || !count) continue;
        rows.push({ test, rps: Number(rps[1]), p50: Number(lat[3]), p99: Number(lat[5]), max: Number(lat[6]), errors: (err.match(/ERR|error/gi) ?? []).length, count: Number(count[1]), cdf });
      }
      if (rows.length === 0) return reject(new Error(`redis-benchmark: no results parsed: ${out.slice(-500)}`));
      resolve(rows);
    });
  });
}

/**
 * p99 over every request of several runs together: the smallest latency L of any run's CDF points such that,
 * counting in each run the requests at <= L (its largest CDF point at or below L), 99 % of all requests are
 * in. Errs high (a run's count between two of its points is taken at the lower point).
 */
export function pooledPercentile(rows: BenchRow[], q = 0.99): number {
  const total = rows.reduce((n, r) => n + r.count, 0);
  if (total === 0) return NaN;
  const candidates = [...new Set(rows.flatMap((r) => r.cdf.map(([ms]) => ms)))].sort((a, b) => a - b);
  const below = (r: BenchRow, ms: number): number => {
    let c = 0;
    for (const [l, n] of r.cdf) if (l <= ms) c = Math.max(c, n);
    return c;
  };
  for (const ms of candidates) {
    let n = 0;
    for (const r of rows) n += below(r, ms);
    if (n >= q * total) return ms;
  }
  return Math.max(...rows.map((r) => r.max));
}
