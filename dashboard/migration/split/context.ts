/** What the split's parts are given (SplitDeps) and its knobs with their defaults (config.ts). */
import type { Coordinator } from '../../../shared/coordinator/types.js';
import type { Logger } from '../../../shared/log.js';
import type { ClusterPaths } from '../../../shared/model/paths.js';
import type { SplitMetrics } from '../../metrics/split.js';
import type { TopologyStore } from '../../topom/store.js';
import { clientOptions, type TlsClientConfig } from '../../../shared/tls/config.js';
import type { RedisAdminOptions } from '../../redis/admin.js';
import { DEFAULT_SPLIT_CONFIG, type SplitConfig } from './config.js';

/** The config section's knobs (config.ts: lagBytes, pollMs, lockTimeoutMs, purge*, retryMs, replicaTimeoutMs), and: */
export interface SplitKnobs extends SplitConfig {
  /** Tests only: pause at the start of every step, so a crash test can kill the leader inside each one (0 = off). */
  stepDelayMs: number;
}

export const DEFAULT_SPLIT_KNOBS: SplitKnobs = { ...DEFAULT_SPLIT_CONFIG, stepDelayMs: 0 };

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
