/**
 * The one start-up and shut-down lifecycle of a proxy, whatever runs its data path: one process
 * (proxy/main.ts: the data path in this process) or N workers (proxy/workers/primary.ts: the data path in
 * worker processes, driven over IPC). Anything wired here is wired in both.
 *
 * Start:   the data plane starts (listening, or ready to: workers on a fixed port wait for the first table)
 *          -> admin HTTP -> topology driver (coordinator follower and registration, or a static table)
 *          -> reachability reporter (health/<proxyId>: the failover votes) -> the data plane serves.
 * Stop:    (close(), SIGTERM/SIGINT through runProxyCommand) stop serving clients within the deadline -> the
 *          reachability reporter and the driver stop (lease revoked, the proxy deregistered) -> admin HTTP
 *          closes -> backend connections close.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../shared/log.js';
import { build as buildAdmin, type AdminProxy } from './admin/app.js';
import type { ProxyRuntime, TopologyDriver } from './runtime.js';
import { advertised, coordinatorUrl, defaultDriver, type StartProxyOptions } from './startup.js';
import { startReachability } from './topology/start-reachability.js';

/** What serves clients: the in-process data path, or the workers. */
export interface DataPlane<R extends ProxyRuntime & AdminProxy> {
  /** What the topology driver drives and the admin app shows. */
  readonly runtime: R;
  /** Starts; resolves with the address clients connect to (bound, or to be bound by serve()). */
  start(): Promise<{ host: string; port: number }>;
  /** The first table is in (the driver started): accept clients if not already. */
  serve(): Promise<void>;
  /** The masters of the applied table (what the reachability reporter probes). */
  masterAddrs(): string[];
  /** Admin HTTP: called before an /api/ request (figures gathered from elsewhere). */
  beforeApiRequest?(): Promise<unknown>;
  /** Admin HTTP: fields added to /api/v1/proxy. */
  adminExtra?(): Record<string, unknown>;
  /** Fields added to the proxy.listening / proxy.stopped log lines. */
  logFields?(): Record<string, unknown>;
  /** Stops serving: no new clients; in-flight commands are answered within the deadline. */
  stopServing(deadlineMs: number): Promise<void>;
  /** Every client is gone: close backend connections. */
  closeBackends(): Promise<void>;
}

export interface LifecycleHandle<R> {
  /** RESP address as advertised, host:port. */
  addr: string;
  host: string;
  port: number;
  /** Admin HTTP address as bound, or null when disabled. */
  adminAddr: string | null;
  runtime: R;
  /** Graceful stop; resolves when every client and backend connection is closed. */
  close(opts?: { deadlineMs?: number }): Promise<void>;
}

export async function runLifecycle<R extends ProxyRuntime & AdminProxy>(opts: StartProxyOptions, plane: DataPlane<R>, log: Logger): Promise<LifecycleHandle<R>> {
  const { config } = opts;
  let admin: FastifyInstance | null = null;
  let adminAddr: string | null = null;
  let stopDriver: (() => Promise<void>) | null = null;
  let followerState: (() => unknown) | null = null;
  const closeAll = async (deadlineMs: number) => {
    await plane.stopServing(deadlineMs);
    if (stopDriver) await stopDriver().catch((err: unknown) => log.warn('proxy.driver_stop_failed', { err }));
    if (admin) await admin.close();
    await plane.closeBackends();
  };
  let bound: { host: string; port: number };
  try {
    bound = await plane.start();
  } catch (err) {
    await closeAll(0);
    throw err;
  }
  const addr = advertised(bound.host, bound.port);
  try {
    if (config.admin !== null) {
      admin = buildAdmin({
        proxy: plane.runtime,
        addr: () => addr,
        adminAddr: () => adminAddr ?? '',
        extra: () => {
          const follower = followerState === null ? {} : { follower: followerState() };
          return plane.adminExtra === undefined ? (followerState === null ? null : follower) : { ...follower, ...plane.adminExtra() };
        },
      });
      const before = plane.beforeApiRequest?.bind(plane);
      if (before !== undefined) {
        admin.addHook('onRequest', async (req) => {
          if (req.url.startsWith('/api/')) await before();
        });
      }
      await admin.listen({ host: config.admin.host, port: config.admin.port });
      const a = admin.server.address();
      if (a !== null && typeof a !== 'string') adminAddr = advertised(a.address, a.port);
    }
    const driver = opts.topologyDriver ?? defaultDriver(config, addr, adminAddr, log);
    const withState = driver as TopologyDriver & { state?: () => unknown };
    if (typeof withState.state === 'function') followerState = () => withState.state!();
    const handle = await driver(plane.runtime);
    // The proxy reports which masters it reaches (the failover votes; proxy/topology/reachability.ts).
    const follower = withState.state?.() as { proxyId?: string } | null | undefined;
    const reach =
      config.coordinator !== '' && follower?.proxyId
        ? await startReachability(config, coordinatorUrl(config), follower.proxyId, () => plane.masterAddrs(), log, opts.reachabilityDialAddr)
        : null;
    stopDriver = async () => {
      await reach?.stop();
      await handle.stop();
    };
    await plane.serve();
  } catch (err) {
    await closeAll(0);
    throw err;
  }
  log.info('proxy.listening', { addr, adminAddr, ...plane.logFields?.(), revision: plane.runtime.appliedRevision() });
  let closing: Promise<void> | null = null;
  return {
    addr,
    host: bound.host,
    port: bound.port,
    adminAddr,
    runtime: plane.runtime,
    close(o = {}) {
      closing ??= closeAll(o.deadlineMs ?? config.shutdownDeadlineMs).then(() => log.info('proxy.stopped', plane.logFields?.()));
      return closing;
    },
  };
}
