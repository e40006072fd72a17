/**
 * The proxy's process never pretenures its per-request objects (proxy/util/heap-tuning.ts): after a phase of slow
 * requests (their objects live through scavenges), V8 allocated the lists of every later fan-out request in the
 * old generation, where they kept the request's young objects alive through scavenges ("objects surviving
 * scavenges in bulk", docs/performance.md). Measured in a child process (test/support/pretenure-probe.ts) with
 * the real fan-out request objects: old-space bytes allocated per request during bursts with no GC in them.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/pretenure-probe.ts');

function probe(mode: 'plain' | 'data-path'): { oldBytesPerRequest: number; samples: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', PROBE, mode], { encoding: 'utf8', timeout: 80_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as { oldBytesPerRequest: number; samples: number };
}

describe('heap tuning: per-request objects are never pretenured', () => {
  it('as V8 sets a process up, fan-out requests made after slow ones are allocated in the old generation (why the tuning exists)', () => {
    const r = probe('plain');
    expect(r.samples).toBeGreaterThanOrEqual(3);
    // The request's four lists (parts, routes, two key lists: 4 x 32 B) go old.
    expect(r.oldBytesPerRequest).toBeGreaterThan(64);
  }, 90_000);

  it('in a process with a DataPath (every process that serves clients), none of them is', () => {
    const r = probe('data-path');
    expect(r.samples).toBeGreaterThanOrEqual(3);
    expect(r.oldBytesPerRequest).toBeLessThan(8);
  }, 90_000);
});
