/**
 * Starting and stopping a proxy.
 *
 *   startProxy({ config, topologyDriver? })  -> { addr, adminAddr, runtime, close({ deadlineMs }) }
 *   runProxyCommand(argv)                      `redslot proxy --config FILE [--listen ADDR] [--a.b value] ...`
 *
 * Topology source, in order: the `topologyDriver` option; `coordinator` URL (follow etcd / memory);
 * the static `topology` section of the config. Start-up and shutdown are proxy/lifecycle.ts's, the same
 * steps as with workers (proxy/workers/primary.ts), with the data path in this process.
 */
import { createLogger, type Logger } from '../shared/log.js';
import { loadProxyConfig, parseProxyFlags } from './config.js';
import type { ProxyCore } from './core.js';
import { DataPath } from './data-path.js';
import { runLifecycle, type DataPlane, type LifecycleHandle } from './lifecycle.js';
import type { StartProxyOptions } from './startup.js';

export type ProxyHandle = LifecycleHandle<ProxyCore>;

/** The data path in this process: the lifecycle's in-process worker. */
class InProcessPlane implements DataPlane<ProxyCore> {
  private readonly path: DataPath;

  constructor(opts: StartProxyOptions, log: Logger) {
    this.path = new DataPath(opts.config, log, { defaultMetrics: opts.defaultMetrics });
  }

  get runtime(): ProxyCore {
    return this.path.core;
  }

  start(): Promise<{ host: string; port: number }> {
    return this.path.core.listen();
  }

  /** Already listening (clients get "no topology yet" until the first table, like a fresh Redis Cluster node). */
  async serve(): Promise<void> {}

  masterAddrs(): string[] {
    return this.path.core.table.masters.map((m) => m.server.addr);
  }

  stopServing(deadlineMs: number): Promise<void> {
    return this.path.stopServing(deadlineMs);
  }

  closeBackends(): Promise<void> {
    return this.path.closeBackends();
  }
}

export async function startProxy(opts: StartProxyOptions): Promise<ProxyHandle> {
  const log = opts.logger ?? createLogger({ service: 'proxy' });
  return runLifecycle(opts, new InProcessPlane(opts, log), log);
}

const USAGE = `usage: redslot proxy [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--coordinator URL] [--<key> VALUE ...]

Every config key can be given as a flag (--limits.max-clients 5000, --backend.password s3cret) or as an
environment variable (REDSLOT_LIMITS__MAX_CLIENTS=5000). Topology: --coordinator etcd://h:p/cluster, or a
static 'topology' section in the config file. See proxy/config.ts for every knob and its default.
`;

/** `redslot proxy ...`: runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0. */
export async function runProxyCommand(argv: string[]): Promise<number> {
  const flags = parseProxyFlags(argv);
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = loadProxyConfig({ file: flags.file, overrides: flags.overrides });
  const log = createLogger({ service: 'proxy' });
  // workers > 1: this process is the primary of N worker processes sharing the port (proxy/workers/).
  const handle =
    config.workers > 1
      ? await (await import('./workers/primary.js')).startProxyWorkers({ config, logger: log })
      : await startProxy({ config, logger: log });
  const workers = config.workers > 1 ? ` (${config.workers} workers)` : '';
  process.stdout.write(`redslot proxy listening on ${handle.addr}${workers}${handle.adminAddr ? `, admin on ${config.adminTls ? 'https' : 'http'}://${handle.adminAddr}` : ''}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('proxy.shutdown', { signal, deadlineMs: config.shutdownDeadlineMs });
    handle.close({ deadlineMs: config.shutdownDeadlineMs }).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('proxy.shutdown_failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return 0;
}
