import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Node arguments that run a TypeScript entry (repo-relative, e.g. 'dashboard/entry.ts') as a separate process:
 * its compiled file when dist/ is newer than every source file (CI builds before testing; starts fast even on a
 * loaded machine), else the source through tsx (slower to start, never stale).
 */
export function nodeArgsFor(entry: string): string[] {
  const dist = path.join(ROOT, 'dist', entry.replace(/\.ts$/, '.js'));
  const fresh = existsSync(dist) && statSync(dist).mtimeMs > Math.max(...['shared', 'dashboard', 'proxy', 'deploy'].map((d) => newestSource(path.join(ROOT, d))));
  return fresh ? [dist] : ['--import', 'tsx', path.join(ROOT, entry)];
}
