/**
 * CPU profile of the proxy under redis-benchmark: starts BENCH_GROUPS redis-servers, the compiled proxy
 * (dist/, single process unless PROFILE_WORKERS is set) under `node --cpu-prof`, runs redis-benchmark
 * against it, stops the proxy with SIGTERM (the profile is written on exit) and prints where the time went:
 * self time by function and by category (socket writes, reads, parsing, routing, GC, idle).
 *
 *   npm run build && node --import tsx bench/profile/run.ts                 -P 16 -t get, 50 clients
 *   PROFILE_ARGS="-P 1 -t set -c 50" node --import tsx bench/profile/run.ts
 *   PROFILE_BUILD=/tmp/other/dist                                          profile another build (a dist/)
 *   node --import tsx bench/profile/run.ts --summarize FILE.cpuprofile      summary of an existing profile
 *   PROFILE_WARMUP_ARGS="-P 16 -t mset"  PROFILE_WARMUP_REQUESTS=20000       the warm-up's flags (default PROFILE_ARGS, 200,000)
 *   PROFILE_GC=1                                                           --trace-gc instead of --cpu-prof: per measured
 *                                                                          run (PROFILE_ROUNDS of them, default 1), the proxy's CPU µs
 *                                                                          per request and its GCs by kind and reason
 *                                                                          (PROFILE_GC_LINES=N: the first N trace lines too)
 *   PROFILE_SEQUENCE="-P 16 -t get -d 16384;-P 1 -t mset -d 1024"           with PROFILE_GC: round r runs the r-th workload
 *                                                                          (cycling) instead of PROFILE_ARGS
 *   PROFILE_GC_LOG=/tmp/proxy.log                                          with PROFILE_GC: everything the proxy prints, warm-up
 *                                                                          included (e.g. with PROFILE_NODE_ARGS=--trace-pretenuring)
 *   PROFILE_NODE_ARGS="--trace-incremental-marking"                        more node flags for the proxy (with PROFILE_GC:
 *                                                                          why each mark-compact's marking started)
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Category of a frame, from its function name and file. */
function category(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle (waiting in epoll)';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native (program: libuv, syscalls outside JS frames)';
  if (/writev|writeBuffer|writeGeneric|_writev|handleWriteReq|writeOrBuffer|Writable|doWrite|clearBuffer|afterWrite|onWriteComplete/.test(fn)) return 'socket writes';
  if (/onStreamRead|readableAddChunk|addChunk|emit|Readable/.test(fn) && url.includes('node:')) return 'socket reads / event emit';
  if (url.includes('request-decoder')) return 'request decoding';
  if (url.includes('reply-framer')) return 'reply framing';
  if (url.includes('/router/')) return 'routing';
  if (url.includes('/commands/')) return 'command lookup';
  if (url.includes('session')) return 'session (queue, flush)';
  if (url.includes('/backend/')) return 'backend connection';
  if (url.includes('/util/')) return 'write coalescing (util/flush)';
  if (url.includes('metrics')) return 'metrics';
  if (url.includes('slot')) return 'slot hashing';
  if (/concat|allocUnsafe|subarray|slice|Buffer|copy/.test(fn)) return 'buffer ops';
  if (url.startsWith('node:') || url === '') return `node internals / native (${fn || 'anonymous'})`;
  return 'other';
}

export function summarize(file: string, top = 30): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  let total = 0;
  let idle = 0;
  const fnTime = new Map<string, number>();
  const catTime = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    total += t;
    if (functionName === '(idle)') idle += t;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '')}:${lineNumber + 1}`;
    fnTime.set(key, (fnTime.get(key) ?? 0) + t);
    const c = category(functionName, url);
    catTime.set(c, (catTime.get(c) ?? 0) + t);
  }
  const busy = total - idle;
  const lines: string[] = [];
  lines.push(`profile ${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} %)`);
  lines.push('', 'by category (% of busy time):');
  for (const [c, t] of [...catTime].sort((a, b) => b[1] - a[1])) {
    if (c.startsWith('idle')) continue;
    lines.push(`  ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${c}`);
  }
  lines.push('', `top ${top} functions by self time (% of busy):`);
  for (const [k, t] of [...fnTime].sort((a, b) => b[1] - a[1]).slice(0, top + 1)) {
    if (k.startsWith('(idle)')) continue;
    lines.push(`  ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--summarize') {
    process.stdout.write(summarize(argv[1]!, Number(argv[2] ?? 30)));
    return;
  }
  const groups = Number(process.env.BENCH_GROUPS ?? 2);
  const benchArgs = (process.env.PROFILE_ARGS ?? '-P 16 -t get -c 50').split(/\s+/).filter(Boolean);
  const n = process.env.PROFILE_REQUESTS ?? '2000000';
  const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-profile-'));
  const backends: RedisServerHandle[] = [];
  for (let g = 0; g < groups; g++) backends.push(await startRedis());
  const port = await freePort();
  const per = Math.ceil(SLOT_COUNT / groups);
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: '',
    workers: Number(process.env.PROFILE_WORKERS ?? 1),
    topology: {
      groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
      slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
    },
  };
  const file = path.join(work, 'proxy.json');
  writeFileSync(file, JSON.stringify(config));
  const gc = process.env.PROFILE_GC === '1';
  const proxy = spawnProcess(
    'redslot',
    process.execPath,
    [...(process.env.PROFILE_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []), ...(gc ? ['--trace-gc'] : ['--cpu-prof', '--cpu-prof-dir', work]), path.join(process.env.PROFILE_BUILD ?? path.join(ROOT, 'dist'), 'deploy/bin/redslot.js'), 'proxy', '--config', file],
    { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
  );
  const trace = gc ? gcLines(proxy.child.stdout!, process.env.PROFILE_GC_LOG) : null;
  try {
    await waitForPort(port, '127.0.0.1', 15_000);
    // Warm-up (JIT), then the measured run.
    const warmArgs = process.env.PROFILE_WARMUP_ARGS?.split(/\s+/).filter(Boolean) ?? benchArgs;
    await bench(port, ['-n', process.env.PROFILE_WARMUP_REQUESTS ?? '200000', '-r', '100000', ...warmArgs]);
    trace?.splice(0); // the warm-up's
    const rounds = gc ? Number(process.env.PROFILE_ROUNDS ?? 1) : 1;
    // Rounds of different workloads in the same proxy (the bulk-survival state was seen after other workloads).
    const sequence = (process.env.PROFILE_SEQUENCE ?? '').split(';').map((a) => a.split(/\s+/).filter(Boolean)).filter((a) => a.length > 0);
    for (let r = 0; r < rounds; r++) {
      const t0 = cpuMicros(proxy.pid);
      const roundArgs = sequence.length > 0 ? sequence[r % sequence.length]! : benchArgs;
      if (sequence.length > 0) process.stdout.write(`round ${r + 1}: ${roundArgs.join(' ')}\n`);
      const out = await bench(port, ['-n', n, '-r', '100000', ...roundArgs, '-q']);
      process.stdout.write(out);
      if (trace === null) continue;
      process.stdout.write(`round ${r + 1}: ${((cpuMicros(proxy.pid) - t0) / Number(n)).toFixed(2)} µs of proxy CPU per request, peak RSS so far ${peakRssMB(proxy.pid)} MB\n`);
      const lines = trace.splice(0);
      process.stdout.write(summarizeGc(lines, Number(n)));
      if (process.env.PROFILE_GC_LINES) process.stdout.write(lines.slice(0, Number(process.env.PROFILE_GC_LINES)).join('\n') + '\n');
    }
  } finally {
    await proxy.stop(30_000);
    await Promise.all(backends.map((b) => b.stop()));
  }
  if (gc) return;
  const profiles = readdirSync(work).filter((f) => f.endsWith('.cpuprofile'));
  if (profiles.length === 0) throw new Error(`no profile written: ${proxy.log()}`);
  for (const f of profiles) process.stdout.write('\n' + summarize(path.join(work, f)));
  process.stderr.write(`\nprofiles in ${work} (open in Chrome DevTools > Performance)\n`);
}

/** utime + stime of a process, µs (CLK_TCK 100). */
function cpuMicros(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** The process's peak resident set (VmHWM), MB. */
function peakRssMB(pid: number): string {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) / 1024).toFixed(0) : '?';
}

/** The --trace-gc lines the proxy prints from now on. */
function gcLines(out: NodeJS.ReadableStream, logFile: string | undefined): string[] {
  const lines: string[] = [];
  let rest = '';
  out.on('data', (d: Buffer) => {
    if (logFile !== undefined) appendFileSync(logFile, d);
    const text = rest + d.toString('utf8');
    const all = text.split('\n');
    rest = all.pop()!;
    for (const l of all) if (/Scavenge|Mark-Compact|Mark-sweep|Minor Mark|IncrementalMarking\] Start \(/.test(l)) lines.push(l);
  });
  return lines;
}

/** GCs by kind and reason: count, pause ms, and count per 1,000 requests. */
function summarizeGc(lines: string[], requests: number): string {
  const by = new Map<string, { count: number; ms: number }>();
  for (const l of lines) {
    // [pid:0x..]   1234 ms: Scavenge 10.1 (12.0) -> 9.8 (13.0) MB, 0.5 / 0.0 ms  (average mu = ..) allocation failure;
    const m = /ms: ([A-Za-z -]+?) [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/[^)]*\)?\s*(?:\(average mu[^)]*\))?\s*([^;]*)/.exec(l);
    const start = /IncrementalMarking\] Start \(([^)]*)\)/.exec(l);
    const key = m ? `${m[1]!.trim()}: ${m[3]!.trim() || '?'}` : start ? `incremental marking started: ${start[1]}` : l.trim().slice(0, 80);
    const e = by.get(key) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += m ? Number(m[2]) : 0;
    by.set(key, e);
  }
  const rows = [...by.entries()].sort((a, b) => b[1].count - a[1].count);
  let text = `GCs during the measured run (${requests} requests):\n`;
  // The "bulk survival" state shows as scavenges that free little and a heap that keeps growing.
  const sizes = lines.map((l) => /ms: (Scavenge|Mark-Compact)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) /.exec(l)).filter((m) => m !== null);
  const scav = sizes.filter((m) => m[1] === 'Scavenge');
  if (scav.length > 0) {
    const before = scav.reduce((a, m) => a + Number(m[2]), 0) / scav.length;
    const after = scav.reduce((a, m) => a + Number(m[3]), 0) / scav.length;
    const peak = Math.max(...sizes.map((m) => Number(m[2])));
    text += `  scavenges: ${before.toFixed(1)} -> ${after.toFixed(1)} MB on average (frees ${(before - after).toFixed(1)}), heap peak ${peak.toFixed(1)} MB\n`;
  }
  for (const [k, e] of rows) text += `  ${String(e.count).padStart(6)}  ${e.ms.toFixed(1).padStart(8)} ms  ${((e.count * 1000) / requests).toFixed(3).padStart(7)} /1k req  ${k}\n`;
  return text;
}

function bench(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', () => {});
    c.on('error', reject);
    c.on('exit', () => resolve(out.split('\r').pop() ?? out));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
