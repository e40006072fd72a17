/**
 * Following Redis Sentinel (optional per group): the master a Sentinel service names, asked of every
 * configured Sentinel with `SENTINEL get-master-addr-by-name <name>` (the address `+switch-master`
 * announces; polling it every round cannot miss a message). A master counts when a strict majority of the
 * configured Sentinels name it; otherwise null (no switch is followed on a split view).
 */
import type { Dialer } from '../topom/dialer.js';
import type { SentinelConfig } from './types.js';

export interface SentinelView {
  master: string | null;
  answers: Array<{ sentinel: string; master?: string; error?: string }>;
}

export async function sentinelMaster(dialer: Dialer, cfg: SentinelConfig, timeoutMs: number): Promise<SentinelView> {
  const allowed = new Set(cfg.addrs);
  const answers = await Promise.all(
    cfg.addrs.map(async (sentinel) => {
      try {
        const r = await dialer.probe(sentinel, allowed, timeoutMs, (c) => c.call('SENTINEL', 'get-master-addr-by-name', cfg.name));
        if (r instanceof Error) return { sentinel, error: r.message };
        if (!Array.isArray(r) || r.length !== 2) return { sentinel, error: `unexpected reply ${JSON.stringify(r)}` };
        const host = String(r[0]);
        return { sentinel, master: `${host.includes(':') ? `[${host}]` : host}:${String(r[1])}` };
      } catch (err) {
        return { sentinel, error: (err as Error).message };
      }
    }),
  );
  const votes = new Map<string, number>();
  for (const a of answers) if (a.master) votes.set(a.master, (votes.get(a.master) ?? 0) + 1);
  let master: string | null = null;
  for (const [addr, n] of votes) if (n * 2 > cfg.addrs.length) master = addr;
  return { master, answers };
}
