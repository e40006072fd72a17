/**
 * What the migration engine's parts are given: the coordinator, the topology store and barrier, leadership,
 * credentials and knobs (MigrationEngineDeps), and the kinds of move an operator can ask for.
 */
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import type { TlsClientConfig } from '../../shared/tls/config.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { MigrationMetrics } from '../metrics/migration.js';
import type { TopologyStore } from '../topom/store.js';
import type { MoverKnobs } from './mover.js';
import type { PlannerGroup } from './planner.js';

export type MoveRequest =
  | { mode: 'rebalance'; groups?: PlannerGroup[]; weights?: 'model' | 'maxmemory'; by?: 'slots' | 'load' }
  | { mode: 'range'; from: number; to: number; group: number }
  | { mode: 'some'; count: number; from: number; to: number };

export interface MigrationEngineDeps {
  coord: Coordinator;
  paths: ClusterPaths;
  /** Topology reads and fenced CAS commits (the leader fence is added there). */
  store: TopologyStore;
  /** Waits until every live proxy acknowledged `revision` (dashboard/topom/barrier.ts). */
  barrier: (revision: number, signal?: AbortSignal) => Promise<unknown>;
  /**
   * Kills, on these masters, the backend connections of proxies no longer registered (dashboard/topom/
   * stale-connections.ts); run after each barrier, before the round steps or starts movers. Throws if a master
   * could not be checked (the round fails and is retried).
   */
  killStaleProxyConnections?: (masters: string[], known: ReadonlySet<string>) => Promise<unknown>;
  isLeader: () => boolean;
  log: Logger;
  metrics?: MigrationMetrics;
  /** Credentials for redis-servers (the mover's own connections and MIGRATE's AUTH/AUTH2 to targets). */
  redisPassword?: string;
  redisUsername?: string;
  /** TLS toward the redis-servers (read at each mover run, so rotated files are picked up). */
  redisTls?: TlsClientConfig | null;
  knobs?: Partial<MoverKnobs>;
  /** SSRF guard: throws unless `addr` is a server of the model. */
  assertAllowed?: (addr: string, known: ReadonlySet<string>) => void;
  /** Reads maxmemory of a master (rebalance weights from maxmemory). */
  maxmemoryOf?: (addr: string, known: ReadonlySet<string>) => Promise<number>;
  /** Observed ops/s per slot (dashboard/load/), for rebalance by load. */
  slotLoad?: () => Promise<ArrayLike<number>>;
  /** Idle poll interval of the scheduler loop (default 1000 ms; job creation, mover results and settings wake it at once). */
  pollMs?: number;
  /** Back-off before a failed slot's mover is retried (default 5 s). */
  retryMs?: number;
}
