/**
 * Opening a coordinator from a URL:
 *   etcd://host:port[,host:port...]/cluster-name   production, etcd v3 API (shared/coordinator/etcd.ts)
 *   memory://cluster-name                          embedded store (shared/coordinator/memory.ts)
 *
 * memory:// stores live in a process-wide registry: every openCoordinator('memory://x') in one process
 * returns a new client of the SAME store, so a dashboard and proxies started in one process (`redslot up`,
 * tests) see each other. The etcd implementation is loaded lazily (it pulls in gRPC).
 */
import { RedslotError } from '../errors.js';
import { clusterPaths, type ClusterPaths } from '../model/paths.js';
import { CoordinatorErrors } from './errors.js';
import { MemoryCoordinator, MemoryStore, type MemoryStoreOptions } from './memory.js';
import type { Coordinator } from './types.js';
import type { EtcdCoordinatorOptions } from './etcd.js';

export type { Coordinator } from './types.js';
export { MemoryCoordinator, MemoryStore } from './memory.js';

export type CoordinatorUrl =
  | { kind: 'memory'; cluster: string }
  | { kind: 'etcd'; hosts: string[]; cluster: string };

export interface OpenedCoordinator {
  coordinator: Coordinator;
  cluster: string;
  paths: ClusterPaths;
}

export interface OpenCoordinatorOptions {
  /** Options for etcd:// URLs (timeouts, fault handling). */
  etcd?: EtcdCoordinatorOptions;
  /** Options used when a memory:// store is created (ignored if it already exists). */
  memory?: MemoryStoreOptions;
}

const CLUSTER_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function invalid(url: string, reason: string): RedslotError {
  return new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_URL_INVALID, { url: JSON.stringify(url), reason });
}

/** Parses and validates a coordinator URL; throws REDSLOT_ERR_COORDINATOR_URL_INVALID with the reason. */
export function parseCoordinatorUrl(url: string): CoordinatorUrl {
  if (typeof url !== 'string' || url.trim() === '') throw invalid(String(url), 'empty');
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw invalid(url, 'missing scheme');
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'memory') {
    const cluster = rest.replace(/\/+$/, '');
    if (!CLUSTER_RE.test(cluster)) throw invalid(url, `cluster name must match ${CLUSTER_RE.source}`);
    return { kind: 'memory', cluster };
  }
  if (scheme === 'etcd') {
    const slash = rest.indexOf('/');
    if (slash < 0) throw invalid(url, 'missing /cluster-name after the host list');
    const hostList = rest.slice(0, slash);
    const cluster = rest.slice(slash + 1).replace(/\/+$/, '');
    if (hostList === '') throw invalid(url, 'no host:port');
    const hosts: string[] = [];
    for (const h of hostList.split(',')) {
      const hm = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(h.trim());
      const port = hm ? Number(hm[2]) : NaN;
      if (!hm || !(port >= 1 && port <= 65535)) throw invalid(url, `bad host:port ${JSON.stringify(h)}`);
      hosts.push(`${hm[1]}:${port}`);
    }
    if (!CLUSTER_RE.test(cluster)) throw invalid(url, `cluster name must match ${CLUSTER_RE.source}`);
    return { kind: 'etcd', hosts, cluster };
  }
  throw invalid(url, `unknown scheme ${JSON.stringify(scheme)}`);
}

const memoryStores = new Map<string, MemoryStore>();

/** The process-wide memory store of a cluster name (created on first use). */
export function memoryStore(cluster: string, opts?: MemoryStoreOptions): MemoryStore {
  let store = memoryStores.get(cluster);
  if (!store) {
    store = new MemoryStore(cluster, opts);
    memoryStores.set(cluster, store);
  }
  return store;
}

/** Forgets a memory store (tests); existing clients keep working on the old instance. */
export function dropMemoryStore(cluster: string): void {
  memoryStores.delete(cluster);
}

/** Opens a coordinator client for the URL. The caller owns it and must close() it. */
export async function openCoordinator(url: string, opts: OpenCoordinatorOptions = {}): Promise<OpenedCoordinator> {
  const parsed = parseCoordinatorUrl(url);
  const paths = clusterPaths(parsed.cluster);
  if (parsed.kind === 'memory') {
    return { coordinator: new MemoryCoordinator(memoryStore(parsed.cluster, opts.memory)), cluster: parsed.cluster, paths };
  }
  const { EtcdCoordinator } = await import('./etcd.js');
  return { coordinator: new EtcdCoordinator(parsed.hosts, opts.etcd), cluster: parsed.cluster, paths };
}
