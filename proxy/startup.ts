/**
 * What both ways of starting a proxy share (one process: proxy/main.ts; N workers: proxy/workers/primary.ts): the
 * start options, the address a proxy advertises, and the topology driver its config names. On its own so that the
 * two start-up paths depend on it rather than on each other.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { CommonErrors, RedslotError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ProxyConfig } from './config.js';
import type { TopologyDriver } from './runtime.js';
import { staticTopologyDriver } from './topology-static.js';
import { topologyDriverFromUrl } from './topology/driver-from-url.js';

export interface StartProxyOptions {
  config: ProxyConfig;
  /** Where topologies come from; default from the config (coordinator URL, else static topology). */
  topologyDriver?: TopologyDriver;
  logger?: Logger;
  /** Node process metrics on /metrics (default true; tests starting many proxies may turn them off). */
  defaultMetrics?: boolean;
  /** Tests only: where this proxy's reachability probes dial a server (to cut one proxy's view through a relay). */
  reachabilityDialAddr?: (addr: string) => string;
}

export function advertised(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** The coordinator URL with `cluster` filled in when the URL names none (`etcd://h:p` + cluster `prod`). */
export function coordinatorUrl(config: Pick<ProxyConfig, 'coordinator' | 'cluster'>): string {
  const url = config.coordinator.trim();
  if (/^etcd:\/\/[^/]+\/?$/i.test(url)) return `${url.replace(/\/$/, '')}/${config.cluster}`;
  if (/^memory:\/\/\/?$/i.test(url)) return `memory://${config.cluster}`;
  return url;
}

export function defaultDriver(config: ProxyConfig, addr: string, adminAddr: string | null, log: Logger): TopologyDriver {
  if (config.coordinator !== '') {
    // Unique per process lifetime (issue 15): host-port alone let two processes share one registration and ack.
    const id = `${os.hostname()}-${addr.slice(addr.lastIndexOf(':') + 1)}-${randomBytes(3).toString('hex')}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    return topologyDriverFromUrl(coordinatorUrl(config), {
      proxy: { id, addr, adminAddr: adminAddr ?? '' },
      leaseTtlSeconds: Math.max(1, Math.round(config.leaseTtlMs / 1000)),
      fencing: config.fencing,
      logger: log.child({ component: 'follower' }),
      coordinatorOptions: { etcd: { security: config.etcd } },
    });
  }
  if (config.topology !== null) return staticTopologyDriver(config.topology);
  throw new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, {
    reason: 'no topology source: set coordinator (etcd://host:port/cluster) or a static topology section',
  });
}
