/** What the split's parts are given (SplitDeps) and its knobs with their defaults. */
import type { Coordinator } from '../../../shared/coordinator/types.js';
import type { Logger } from '../../../shared/log.js';
import type { ClusterPaths } from '../../../shared/model/paths.js';
import type { SplitMetrics } from '../../metrics/split.js';
import type { TopologyStore } from '../../topom/store.js';
import { clientOptions, type TlsClientConfig } from '../../../shared/tls/config.js';
import type { RedisAdminOptions } from '../../redis/admin.js';

export interface SplitKnobs {
  /** The hold starts once the new master is this close to the source (bytes of replication stream). */
  lagBytes: number;
  /** Poll interval of replication progress (ms). */
  pollMs: number;
  /** While the slots are held, the new master must reach the source's offset within this, else the split aborts (ms). */
  lockTimeoutMs: number;
  /** Keys per SCAN call / UNLINK of the purge. */
  purgeBatchKeys: number;
  /** Pause after each purge UNLINK (ms). */
  purgePauseMs: number;
  /** Back-off before a failed step is tried again (ms). */
  retryMs: number;
  /** Tests only: pause at the start of every step, so a crash test can kill the leader inside each one (0 = off). */
  stepDelayMs: number;
}

export const DEFAULT_SPLIT_KNOBS: SplitKnobs = {
  lagBytes: 256 * 1024,
  pollMs: 20,
  lockTimeoutMs: 5000,
  purgeBatchKeys: 500,
  purgePauseMs: 1,
  retryMs: 1000,
  stepDelayMs: 0,
};

export interface SplitDeps {
  coord: Coordinator;
  paths: ClusterPaths;
  store: TopologyStore;
  barrier: (revision: number, signal?: AbortSignal) => Promise<unknown>;
  isLeader: () => boolean;
  log: Logger;
  metrics?: SplitMetrics;
  redisPassword?: string;
  redisUsername?: string;
  /** TLS toward the redis-servers (as the dialer's); null = plain TCP. */
  redisTls?: TlsClientConfig | null;
  /** SSRF guard: throws unless `addr` is a server of the model. */
  assertAllowed: (addr: string, known: ReadonlySet<string>) => void;
  knobs?: Partial<SplitKnobs>;
}

/** Options of the dashboard's own connections to a master (credentials, TLS read at each dial). */
export function adminOptions(deps: SplitDeps, addr: string, commandTimeoutMs: number): RedisAdminOptions {
  return {
    addr,
    password: deps.redisPassword,
    username: deps.redisUsername,
    tls: deps.redisTls ? clientOptions(deps.redisTls, 'redisTls') : null,
    connectTimeoutMs: 2000,
    commandTimeoutMs,
  };
}
