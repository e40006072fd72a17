/**
 * Client load for the split tests, through a proxy: a probe that GETs one key back to back (its longest request is
 * the hold a client sees) and a writer that INCRs back to back (the source's replication offset keeps moving).
 * `stop()` ends a loop and tells how many requests it made and the longest (ms); it may be called again (a test's
 * `finally`) and rejects if a request failed.
 */
import { expect } from 'vitest';
import { Redis } from 'ioredis';

export interface LoadLoop {
  stop: () => Promise<{ requests: number; maxMs: number }>;
}

/** Runs `request(r, n)` (n: the requests done so far) back to back on a connection to `port`, `pauseMs` apart. */
function loop(port: number, request: (r: Redis, n: number) => Promise<unknown>, pauseMs = 0): LoadLoop {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  let stopped = false;
  let requests = 0;
  let maxMs = 0;
  const running = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      await request(r, requests);
      maxMs = Math.max(maxMs, performance.now() - t0);
      requests++;
      if (pauseMs > 0) await new Promise((res) => setTimeout(res, pauseMs));
    }
  })();
  let ended: Promise<{ requests: number; maxMs: number }> | undefined;
  const end = async () => {
    stopped = true;
    try {
      await running;
    } finally {
      r.disconnect();
    }
    return { requests, maxMs };
  };
  return { stop: () => (ended ??= end()) };
}

/** GETs `key` back to back, each answer `expected`. */
export function startProbe(port: number, key: string, expected = 'probe'): LoadLoop {
  return loop(port, async (r) => expect(await r.get(key)).toBe(expected));
}

/** INCRs `keyOf(n)` back to back (n: the INCRs acknowledged so far), `pauseMs` apart. */
export function startIncrs(port: number, keyOf: (n: number) => string, pauseMs = 0): LoadLoop {
  return loop(port, (r, n) => r.incr(keyOf(n)), pauseMs);
}
