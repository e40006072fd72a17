/**
 * A tiny benchmark harness (no dependency). Alternatives are measured interleaved over several rounds (the
 * machine is shared and noisy) and each is reported by its median round, as ops/s and, when given, MB/s,
 * plus the ratio to the first alternative. Compare alternatives of one run; never quote absolute numbers.
 */

export interface Alternative {
  name: string;
  fn: () => void;
}

export interface Result {
  name: string;
  opsPerSec: number;
  mbPerSec?: number;
}

function timeFor(fn: () => void, ms: number): number {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 4; i++) fn();
    ops += 4;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

export function compare(alternatives: Alternative[], opts: { bytesPerOp?: number; ms?: number; rounds?: number } = {}): Result[] {
  const ms = opts.ms ?? Number(process.env.BENCH_MS ?? 1500);
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 5);
  for (const a of alternatives) timeFor(a.fn, Math.min(300, ms / 4)); // warm-up: let the JIT settle
  const samples = alternatives.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) alternatives.forEach((a, i) => samples[i]!.push(timeFor(a.fn, ms / rounds)));
  return alternatives.map((a, i) => {
    const s = samples[i]!.sort((x, y) => x - y);
    const ops = s[Math.floor(s.length / 2)]!;
    const r: Result = { name: a.name, opsPerSec: ops };
    if (opts.bytesPerOp !== undefined) r.mbPerSec = (ops * opts.bytesPerOp) / 1024 / 1024;
    return r;
  });
}

export function report(title: string, results: Result[]): void {
  const base = results[0]!;
  process.stdout.write(`\n${title}\n`);
  for (const r of results) {
    const ratio = r.opsPerSec / base.opsPerSec;
    process.stdout.write(
      `  ${r.name.padEnd(40)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ops/s` +
        (r.mbPerSec !== undefined ? ` ${r.mbPerSec.toFixed(0).padStart(6)} MB/s` : '') +
        `  x${ratio.toFixed(2)}\n`,
    );
  }
}
