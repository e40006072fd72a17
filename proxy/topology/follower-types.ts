/**
 * The coordinator follower's options, state snapshot and driver type (proxy/topology/follower.ts).
 */
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import type { ProxyRecord } from '../../shared/model/types.js';
import type { TopologyDriver } from '../runtime.js';

/** Only 'strict' remains (see the header); the type is kept so configs and callers naming it still compile. */
export type FencingMode = 'strict';

export interface FollowerOptions {
  coordinator: Coordinator;
  cluster: string;
  /** What to register under proxies/<id>; pid, hostname, startedAt and version are filled in if missing. */
  proxy: Pick<ProxyRecord, 'id' | 'addr' | 'adminAddr'> & Partial<ProxyRecord>;
  /** Lease TTL in seconds (default 10). */
  leaseTtlSeconds?: number;
  /** Same in ms (the proxy config's `leaseTtlMs`); rounded up to whole seconds (etcd leases are in seconds). */
  leaseTtlMs?: number;
  /** Always 'strict' ('off' was removed). */
  fencing?: FencingMode;
  /**
   * Fence when the last renewal is older than ttl - margin. Default max(1000, ttl/10) ms: it must cover the
   * lease monitor's period (100 ms), event-loop lag and in-flight requests finishing after the fence, while
   * leaving room for an etcd restart (5 s down + ~2 s election) within the default 10 s TTL.
   */
  fenceMarginMs?: number;
  /** First retry delay after a failed resync or ack write (doubles up to 2 s; default 250). */
  retryDelayMs?: number;
  /** Revoke the lease on stop so the proxy disappears at once (default true). */
  revokeOnStop?: boolean;
  /** Close the coordinator on stop (default false: the caller owns it). */
  closeCoordinatorOnStop?: boolean;
  /**
   * The driver's promise resolves once the first table is applied and acknowledged (default true). With
   * false it resolves at once and the table arrives in the background (readiness: runtime.appliedRevision()).
   */
  waitForFirstLoad?: boolean;
  logger?: Logger;
}

export type LeaseStatus = 'none' | 'alive' | 'renewal-failing' | 'lost';

/** Snapshot for the admin API (GET /api/topology or similar) and tests. */
export interface FollowerState {
  proxyId: string;
  coordinator: string;
  cluster: string;
  fencing: FencingMode;
  lease: {
    id: string | null;
    ttlSeconds: number;
    status: LeaseStatus;
    /** ISO time of the last successful grant/keep-alive. */
    lastRenewedAt: string | null;
    sinceRenewalMs: number | null;
    /** Fencing threshold: fenced once sinceRenewalMs exceeds this (strict mode). */
    fenceAfterMs: number;
  };
  watch: 'starting' | 'up' | 'down';
  /** Revision of the last full load. */
  loadedRevision: number;
  /** Revision of the table the runtime has applied. */
  appliedRevision: number;
  /** Highest revision written to acks/<id>. */
  ackedRevision: number;
  /** Reason the proxy is fenced (by us or anyone), or null when serving. */
  fenced: string | null;
  /** True once the first table was applied and acknowledged. */
  loaded: boolean;
  resyncs: number;
  lastError: string | null;
}

export interface FollowerDriver extends TopologyDriver {
  /** Current state, or null before the driver was started. */
  state(): FollowerState | null;
}
