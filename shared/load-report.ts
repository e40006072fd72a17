/**
 * What a proxy reports about its load (admin `GET /api/v1/proxy/load`), and how reports add up: the
 * workers of one proxy into one report (proxy/workers/primary.ts), proxies into the cluster's view
 * (dashboard/load/). Counters are cumulative since the process started; rates come from two reports.
 */

export interface HotKeyReport {
  /** The key (its first `load.maxKeyBytes` bytes), base64: keys are bytes, not text. */
  key: string;
  /** Bytes of the whole key (more than the decoded `key` when it was truncated). */
  length: number;
  /** Estimated requests over `spanMs` (sampled count x sampleEvery; an upper bound). */
  count: number;
  /** Error bound of `count` (Space-Saving), same unit. */
  error: number;
  slot: number;
}

export interface ProxyLoadReport {
  /** Date.now() when taken. */
  at: number;
  /** False when the proxy runs with load.count: false (all zeros). */
  counting: boolean;
  /** Requests routed per slot (SLOT_COUNT entries, cumulative). */
  ops: number[];
  /** Request bytes per slot (cumulative). */
  bytes: number[];
  hotKeys: { sampleEvery: number; spanMs: number; keys: HotKeyReport[] };
}

/** Sums reports (workers of one proxy): counters add, hot keys add by key. */
export function mergeLoadReports(reports: ProxyLoadReport[], slotCount: number): ProxyLoadReport {
  const ops = new Array<number>(slotCount).fill(0);
  const bytes = new Array<number>(slotCount).fill(0);
  const keys = new Map<string, HotKeyReport>();
  let spanMs = 0;
  let sampleEvery = 1;
  for (const r of reports) {
    for (let i = 0; i < slotCount; i++) {
      ops[i]! += r.ops[i] ?? 0;
      bytes[i]! += r.bytes[i] ?? 0;
    }
    spanMs = Math.max(spanMs, r.hotKeys.spanMs);
    sampleEvery = r.hotKeys.sampleEvery;
    for (const k of r.hotKeys.keys) {
      const cur = keys.get(k.key);
      if (cur) {
        cur.count += k.count;
        cur.error += k.error;
      } else keys.set(k.key, { ...k });
    }
  }
  return {
    at: Date.now(),
    counting: reports.some((r) => r.counting),
    ops,
    bytes,
    hotKeys: { sampleEvery, spanMs, keys: [...keys.values()].sort((a, b) => b.count - a.count) },
  };
}
