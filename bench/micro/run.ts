/**
 * `npm run bench:micro`: runs every micro-benchmark in bench/micro (files named *.bench.ts exporting run()).
 * BENCH_MS=2000 for longer runs; BENCH_ONLY=resp-decoder to pick files by name.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = path.dirname(new URL(import.meta.url).pathname);
const only = process.env.BENCH_ONLY;
const files = readdirSync(dir).filter((f) => /\.bench\.(ts|js)$/.test(f) && (!only || f.includes(only))).sort();
for (const f of files) {
  process.stdout.write(`\n=== ${f}\n`);
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { run?: () => void | Promise<void> };
  if (typeof mod.run !== 'function') throw new Error(`${f} does not export run()`);
  await mod.run();
}
