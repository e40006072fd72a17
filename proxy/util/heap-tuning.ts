/**
 * V8 settings for a process that serves clients (proxy/data-path.ts applies them before the first request).
 *
 * Allocation-site pretenuring off: V8 watches each object and array literal ("allocation site") and, when
 * 85 % or more of what one allocated survived a scavenge, allocates everything from it in the old generation
 * from then on. A proxy's per-request objects (a fan-out's part lists, their key lists ...) survive scavenges
 * while requests are slow (big values at pipeline 16, a busy machine), so those sites get tenured, and the
 * decision outlives the slow phase: afterwards every short request allocates its lists in the old generation,
 * where they point at the request's young objects, which scavenges must then keep (the old generation is
 * their root set) and promote. Scavenges freed ~5 of ~13 MB and took ~10 ms, the old generation grew
 * to 80 MB between mark-compacts ("objects surviving scavenges in bulk", docs/performance.md). Nothing the
 * proxy allocates per request is meant to live long, so nothing gains from pretenuring.
 */
import v8 from 'node:v8';

/** The V8 flags set at run time (none of them is a heap size: those take effect only on the command line). */
export const HEAP_FLAGS = ['--no-allocation-site-pretenuring'] as const;

let applied = false;

/** Sets HEAP_FLAGS once per process (V8 reads them at each GC and literal allocation, so setting them now works). */
export function tuneHeap(): void {
  if (applied) return;
  applied = true;
  for (const f of HEAP_FLAGS) v8.setFlagsFromString(f);
}
