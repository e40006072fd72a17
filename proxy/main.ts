/**
 * Starting and stopping a proxy.
 *
 *   startProxy({ config, topologyDriver? })  -> { addr, adminAddr, runtime, close({ deadlineMs }) }
 *   runProxyCommand(argv)                      `redslot proxy --config FILE [--listen ADDR] [--a.b value] ...`
 *
 * Topology source, in order: the `topologyDriver` option; `coordinator` URL (follow etcd / memory);
 * the static `topology` section of the config.
 * Shutdown (SIGTERM/SIGINT, or close()): stop accepting, stop reading, finish in-flight commands and flush
 * their replies within the deadline, close clients, then stop following the coordinator (revoking the lease)
 * and close backend connections.
 */
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../shared/log.js';
import { build as buildAdmin } from './admin/app.js';
import { loadProxyConfig, parseProxyFlags } from './config.js';
import { ProxyCore } from './core.js';
import type { TopologyDriver } from './runtime.js';
import { advertised, coordinatorUrl, defaultDriver, type StartProxyOptions } from './startup.js';
import { startReachability } from './topology/start-reachability.js';
import { ReplicaHealth } from './topology/replica-health.js';

export interface ProxyHandle {
  /** RESP address as bound, host:port. */
  addr: string;
  host: string;
  port: number;
  /** Admin HTTP address as bound, or null when disabled. */
  adminAddr: string | null;
  runtime: ProxyCore;
  /** Graceful stop; resolves when every client and backend connection is closed. */
  close(opts?: { deadlineMs?: number }): Promise<void>;
}

export async function startProxy(opts: StartProxyOptions): Promise<ProxyHandle> {
  const { config } = opts;
  const log = opts.logger ?? createLogger({ service: 'proxy' });
  const core = new ProxyCore(config, log, { defaultMetrics: opts.defaultMetrics });
  const bound = await core.listen();
  const addr = advertised(bound.host, bound.port);
  let admin: FastifyInstance | null = null;
  let adminAddr: string | null = null;
  let stopDriver: (() => Promise<void>) | null = null;
  let extraState: (() => Record<string, unknown>) | null = null;
  const replicaHealth = ReplicaHealth.start(core.table, config, log);
  const closeAll = async (deadlineMs: number) => {
    await replicaHealth.stop();
    await core.server.close(deadlineMs);
    if (stopDriver) await stopDriver().catch((err: unknown) => log.warn('proxy.driver_stop_failed', { err }));
    if (admin) await admin.close();
    // Every client is gone: replies still pending on backends have no reader left, so do not wait for them.
    await core.pool.close(true);
  };
  try {
    if (config.admin !== null) {
      admin = buildAdmin({ proxy: core, addr: () => addr, adminAddr: () => adminAddr ?? '', extra: () => extraState?.() ?? null });
      await admin.listen({ host: config.admin.host, port: config.admin.port });
      const a = admin.server.address();
      if (a !== null && typeof a !== 'string') adminAddr = advertised(a.address, a.port);
    }
    const driver = opts.topologyDriver ?? defaultDriver(config, addr, adminAddr, log);
    const withState = driver as TopologyDriver & { state?: () => unknown };
    if (typeof withState.state === 'function') extraState = () => ({ follower: withState.state!() });
    const handle = await driver(core);
    const follower = withState.state?.() as { proxyId?: string } | null | undefined;
    const reach = config.coordinator !== '' && follower?.proxyId
      ? await startReachability(config, coordinatorUrl(config), follower.proxyId, () => core.table.masters.map((m) => m.server.addr), log, opts.reachabilityDialAddr)
      : null;
    stopDriver = async () => {
      await reach?.stop();
      await handle.stop();
    };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
  log.info('proxy.listening', { addr, adminAddr, revision: core.appliedRevision() });
  let closing: Promise<void> | null = null;
  return {
    addr,
    host: bound.host,
    port: bound.port,
    adminAddr,
    runtime: core,
    close(o = {}) {
      closing ??= closeAll(o.deadlineMs ?? config.shutdownDeadlineMs).then(() => log.info('proxy.stopped'));
      return closing;
    },
  };
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
