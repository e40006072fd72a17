/**
 * The barrier: wait until every live proxy has acknowledged a topology revision.
 *
 * A proxy is live while its registration under `paths.proxies` exists (it is attached to the proxy's lease).
 * Its acknowledgement is `paths.ack(id)` = { revision }, written only after it applied that revision and
 * drained every request sent under the previous routes. The barrier is reached when each live proxy's ack is
 * >= the revision. A proxy whose lease is gone is not waited for (it stopped serving before its lease
 * expired: proxies self-fence). A proxy removed while live (dashboard/topom/proxies.ts) leaves a tombstone
 * under `paths.removed` until it fenced itself: the barrier waits for those too. On timeout the error names the laggards and what each acknowledged.
 *
 * Used by group promotion and by the migration engine for each slot-action step.
 */
import type { Coordinator } from '../../shared/coordinator/types.js';
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import type { ProxyAck } from '../../shared/model/types.js';
import { DashboardErrors } from '../errors.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';

export interface BarrierOptions {
  timeoutMs: number;
  /** Poll interval (default 25 ms). */
  pollMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  metrics?: DashboardMetrics;
}

export interface BarrierState {
  /** Ids of proxies with a live lease. */
  live: string[];
  laggards: Array<{ id: string; acked: number | null }>;
}

export interface BarrierResult {
  revision: number;
  waitedMs: number;
  /** Proxies that acknowledged (the live set when the barrier was reached). */
  proxies: string[];
}

/** One look at registrations and acks. */
export async function barrierState(coord: Coordinator, paths: ClusterPaths, revision: number): Promise<BarrierState> {
  const [proxies, acks, removed] = await Promise.all([coord.getPrefix(paths.proxies), coord.getPrefix(paths.acks), coord.getPrefix(paths.removed)]);
  const acked = new Map<string, number>();
  for (const kv of acks.kvs) {
    try {
      const a = JSON.parse(kv.value) as ProxyAck;
      if (typeof a.revision === 'number') acked.set(lastSegment(kv.key), a.revision);
    } catch {
      // A malformed ack counts as no ack.
    }
  }
  const live = proxies.kvs.map((kv) => lastSegment(kv.key));
  const laggards = live.filter((id) => (acked.get(id) ?? -1) < revision).map((id) => ({ id, acked: acked.get(id) ?? null }));
  // Removed but maybe not yet fenced: nothing it acknowledged counts any more.
  for (const kv of removed.kvs) laggards.push({ id: `${lastSegment(kv.key)} (removed, not yet fenced)`, acked: null });
  return { live, laggards };
}

export async function waitForAcks(coord: Coordinator, paths: ClusterPaths, revision: number, opts: BarrierOptions): Promise<BarrierResult> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 25;
  let state: BarrierState;
  for (;;) {
    opts.signal?.throwIfAborted();
    state = await barrierState(coord, paths, revision);
    if (state.laggards.length === 0) break;
    if (Date.now() >= deadline) {
      opts.metrics?.barrierTimeouts.inc();
      const laggards = state.laggards.map((l) => `${l.id} (acked ${l.acked ?? 'nothing'})`).join(', ');
      opts.log?.warn('barrier.timeout', { revision, timeoutMs: opts.timeoutMs, laggards: state.laggards });
      throw new RedslotError(DashboardErrors.REDSLOT_ERR_BARRIER_TIMEOUT, { revision, timeoutMs: opts.timeoutMs, laggards });
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const waitedMs = Date.now() - started;
  opts.metrics?.barrierWait.observe(waitedMs / 1000);
  opts.log?.info('barrier.reached', { revision, waitedMs, proxies: state.live.length });
  return { revision, waitedMs, proxies: state.live };
}

/**
 * The barrier for steps that hold requests at the proxies (a migration's `prepared`, a split's switch): polled
 * every 5 ms, because the wait is client latency (25 ms polls showed in p99).
 */
export function holdingBarrier(coord: Coordinator, paths: ClusterPaths, opts: Pick<BarrierOptions, 'timeoutMs' | 'log' | 'metrics'>) {
  return (revision: number, signal?: AbortSignal): Promise<BarrierResult> => waitForAcks(coord, paths, revision, { ...opts, pollMs: 5, signal });
}
