/**
 * The contract between the proxy's data path (server, sessions, router) and whatever drives its topology
 * (a static config file, or the coordinator follower in proxy/topology/). The data path implements it;
 * drivers only call it.
 */
import type { Topology } from '../shared/model/types.js';

export interface ProxyRuntime {
  /**
   * Applies a whole topology atomically: no command is routed with half of it. Resolves once every
   * request sent under the previous route of a changed slot has been answered (drained) and slots that
   * the new topology locks are holding new requests. Only then may the caller acknowledge `topology.revision`.
   * Calls are serialised by the caller; a call never overlaps the previous one.
   */
  applyTopology(topology: Topology): Promise<void>;

  /** Revision of the topology currently applied (0 before the first load). */
  appliedRevision(): number;

  /**
   * Fences (reason set) or unfences (null) the proxy. While fenced, new commands get
   * `-CLUSTERDOWN <reason>`; in-flight ones finish; /readyz fails.
   */
  setFenced(reason: string | null): void;

  /** Current fence reason, or null when serving. */
  fenced(): string | null;

  /**
   * Serve at most `remainingMs` more (on this process's monotonic clock) unless called again; null removes
   * the deadline. The coordinator follower extends it on every lease renewal: a process that cannot prove
   * its lease (frozen, partitioned) refuses commands on its own, without waiting for anyone to tell it.
   */
  setServeDeadline?(remainingMs: number | null): void;

  /**
   * The registration id the proxy holds now (a new one after each lost lease). Backend connections opened
   * from now on name themselves after it (CLIENT SETNAME redslot-proxy:<id>): the dashboard kills the
   * connections of ids no longer registered before it moves a slot on (issue 15, hole 5).
   */
  setIdentity?(proxyId: string | null): void;
}

/** Starts feeding topologies into a runtime; returns a handle to stop. */
export type TopologyDriver = (runtime: ProxyRuntime) => Promise<{ stop(): Promise<void> }>;
