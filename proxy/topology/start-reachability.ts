/** Wires a ReachabilityReporter to a running proxy (or workers' primary): its own coordinator handle, the masters as targets. */
import { openCoordinator } from '../../shared/coordinator/index.js';
import type { Logger } from '../../shared/log.js';
import type { ProxyConfig } from '../config.js';
import { ReachabilityReporter } from './reachability.js';

export async function startReachability(
  config: ProxyConfig,
  url: string,
  proxyId: string,
  /** The masters of the applied table (read each round). */
  servers: () => Iterable<string>,
  log: Logger,
  dialAddr?: (addr: string) => string,
): Promise<{ stop(): Promise<void> } | null> {
  if (config.reachability.intervalMs <= 0) return null;
  const { coordinator, paths } = await openCoordinator(url);
  const reporter = new ReachabilityReporter({
    coord: coordinator,
    paths,
    proxyId,
    servers,
    intervalMs: config.reachability.intervalMs,
    timeoutMs: config.reachability.timeoutMs,
    leaseTtlSeconds: Math.max(1, Math.round(config.leaseTtlMs / 1000)),
    user: config.backend.user,
    password: config.backend.password,
    dialAddr,
    log: log.child({ component: 'reachability' }),
  });
  reporter.start();
  return {
    async stop() {
      await reporter.stop();
      await coordinator.close();
    },
  };
}
