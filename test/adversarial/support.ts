/**
 * Shared by the adversarial tier: every scenario attacks a running cluster (real redis-servers behind an
 * in-process proxy) and checks that bystanders keep being served, the attacker gets a clear error, memory
 * returns near its baseline and no acknowledged write is lost. Figures are printed for the README / report.
 */
import { Redis } from 'ioredis';

/** Resident set size of this process (the in-process proxy included), in MB, after a GC when exposed. */
export function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Milliseconds `p` takes to settle (rejections count as settled). */
export async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error: error as Error };
  }
}

/** An ioredis client with no retries and no offline queue: an error is seen as it happens. */
export async function client(port: number): Promise<Redis> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, enableReadyCheck: false, lazyConnect: true });
  await r.connect();
  return r;
}

/** A figure for the report: one line, greppable. */
export function figure(name: string, value: number | string, unit = ''): void {
  console.log(`[figure] ${name}: ${typeof value === 'number' ? value.toFixed(1) : value}${unit}`);
}

/** Waits until `cond` holds (polling), or throws after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
