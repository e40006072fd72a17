/**
 * Running a dashboard: `startDashboard(opts)` (in-process: `redslot up`, tests) and
 * `runDashboardCommand(argv)` for `redslot dashboard --coordinator URL [--listen host:port] [--token T]
 * [--config FILE] ...`, which runs until SIGTERM/SIGINT and then shuts down gracefully (stops serving,
 * revokes its lease so a standby takes over at once, closes the coordinator).
 */
import os from 'node:os';
import { openCoordinator, type OpenedCoordinator } from '../shared/coordinator/index.js';
import type { EtcdSecurity } from '../shared/coordinator/etcd-security.js';
import { RedslotError } from '../shared/errors.js';
import { createLogger, setLogLevel, type Logger } from '../shared/log.js';
import { parseHostPort } from '../shared/config.js';
import { build, type App, type DashboardOptions } from './app.js';
import { flagString, parseArgs, UsageError } from './cli/args.js';
import { loadDashboardConfig, type DashboardConfig, type TokenSpec } from './config.js';

export interface StartDashboardOptions {
  /** Coordinator URL, or an already opened coordinator (then the caller closes it). */
  coordinator: string | OpenedCoordinator;
  /** host:port; port 0 picks a free one (default 127.0.0.1:18080). */
  listen?: string;
  /** Address announced to other dashboards and CLIs (default: the listen address with the real port). */
  advertise?: string;
  /** One operator token (shorthand for tokens: [{ name: 'operator', token, role: 'operator' }]). */
  token?: string;
  tokens?: TokenSpec[];
  /** etcd authentication and TLS, for an etcd:// coordinator URL. */
  etcd?: EtcdSecurity;
  /** Everything else build() takes (knobs: leaseTtlMs, barrierTimeoutMs, openReads, ...). */
  options?: Partial<Omit<DashboardOptions, 'coordinator' | 'paths' | 'cluster' | 'tokens' | 'election' | 'advertise'>>;
  logger?: Logger;
}

export interface RunningDashboard {
  /** http://host:port, or https:// when served over TLS */
  url: string;
  /** host:port as advertised */
  addr: string;
  id: string;
  app: App;
  close(): Promise<void>;
}

export async function startDashboard(opts: StartDashboardOptions): Promise<RunningDashboard> {
  const tokens = [...(opts.tokens ?? [])];
  if (opts.token) tokens.push({ name: 'operator', token: opts.token, role: 'operator' });
  const ownCoordinator = typeof opts.coordinator === 'string';
  const opened = typeof opts.coordinator === 'string' ? await openCoordinator(opts.coordinator, opts.etcd ? { etcd: { security: opts.etcd } } : {}) : opts.coordinator;
  const listen = parseHostPort(opts.listen ?? '127.0.0.1:18080', 'listen');
  let app: App;
  try {
    app = await build({
      ...opts.options,
      coordinator: opened.coordinator,
      paths: opened.paths,
      cluster: opened.cluster,
      tokens,
      election: 'manual',
      logger: opts.logger ?? opts.options?.logger,
    });
    await app.listen({ host: listen.host, port: listen.port });
  } catch (err) {
    if (ownCoordinator) await opened.coordinator.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = address !== null && typeof address === 'object' ? address.port : listen.port;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? os.hostname() : listen.host;
  const addr = opts.advertise ?? `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const scheme = opts.options?.tls ? 'https' : 'http';
  const ctx = app.dashboard;
  try {
    await ctx.election.start(addr);
  } catch (err) {
    await app.close();
    if (ownCoordinator) await opened.coordinator.close().catch(() => undefined);
    throw err;
  }
  ctx.log.info('dashboard.listening', { url: `${scheme}://${addr}`, coordinator: opened.coordinator.describe, cluster: opened.cluster });
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${addr}`,
    addr,
    id: ctx.id,
    app,
    close() {
      closing ??= (async () => {
        await app.close();
        if (ownCoordinator) await opened.coordinator.close().catch(() => undefined);
        ctx.log.info('dashboard.stopped', {});
      })();
      return closing;
    },
  };
}

const USAGE = `usage: redslot dashboard --coordinator URL [options]

  --coordinator URL     etcd://host:port[,host:port]/cluster or memory://cluster
  --listen HOST:PORT    listen address (default 127.0.0.1:18080)
  --advertise HOST:PORT address other dashboards and CLIs use for this one (default: listen)
  --token TOKEN         operator token (or env REDSLOT_DASHBOARD_TOKEN, or tokens: in the config file)
  --config FILE         YAML/JSON config file (tokens, knobs); flags override it
  --open-reads          serve GET endpoints without a token
  --lease-ttl DURATION  leader lease TTL (default 5s)
  --barrier-timeout D   how long a barrier waits for proxies (default 30s)
  --log-level LEVEL     debug|info|warn|error|silent
`;

const VALUE_FLAGS = ['coordinator', 'listen', 'advertise', 'token', 'config', 'lease-ttl', 'barrier-timeout', 'log-level', 'stats-interval'] as const;
const BOOL_FLAGS = ['open-reads', 'help'] as const;

/** Flags -> raw config keys (camelCase, as in the config file). */
function flagsToRaw(argv: string[]): Record<string, unknown> {
  const p = parseArgs(argv, VALUE_FLAGS, BOOL_FLAGS);
  if (p.flags.has('help')) throw new UsageError('');
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const raw: Record<string, unknown> = {};
  const map: Record<string, string> = {
    coordinator: 'coordinator',
    listen: 'listen',
    advertise: 'advertise',
    token: 'token',
    config: 'config',
    'lease-ttl': 'leaseTtl',
    'barrier-timeout': 'barrierTimeout',
    'log-level': 'logLevel',
    'stats-interval': 'statsInterval',
  };
  for (const [flag, key] of Object.entries(map)) {
    const v = flagString(p, flag);
    if (v !== undefined) raw[key] = v;
  }
  if (p.flags.has('open-reads')) raw['openReads'] = true;
  return raw;
}

export function dashboardOptionsFromConfig(cfg: DashboardConfig): StartDashboardOptions {
  return {
    coordinator: cfg.coordinator,
    listen: cfg.listen,
    advertise: cfg.advertise,
    tokens: cfg.tokens,
    etcd: cfg.etcd,
    options: {
      openReads: cfg.openReads,
      openMetrics: cfg.openMetrics,
      leaseTtlMs: cfg.leaseTtlMs,
      barrierTimeoutMs: cfg.barrierTimeoutMs,
      statsIntervalMs: cfg.statsIntervalMs,
      statsHistory: cfg.statsHistory,
      dialTimeoutMs: cfg.dialTimeoutMs,
      redisPassword: cfg.redisPassword,
      redisUsername: cfg.redisUsername,
      assignScanMaxKeys: cfg.assignScanMaxKeys,
      auditRetain: cfg.auditRetain,
      failover: cfg.failover,
      split: cfg.split,
      tls: cfg.tls,
      redisTls: cfg.redisTls,
      proxyAdminTls: cfg.proxyAdminTls,
    },
  };
}

/**
 * `redslot dashboard ...`: runs until SIGTERM/SIGINT. Resolves with the exit code (0 after a clean stop,
 * 2 on usage errors, 1 when it could not start).
 */
export async function runDashboardCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: DashboardConfig;
  try {
    cfg = loadDashboardConfig(flagsToRaw(argv), env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(err.message ? `redslot dashboard: ${err.message}\n\n${USAGE}` : USAGE);
      return err.message ? 2 : 0;
    }
    if (err instanceof RedslotError) {
      process.stderr.write(`redslot dashboard: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cfg.logLevel) setLogLevel(cfg.logLevel);
  const log = createLogger({ component: 'dashboard.main' });
  let running: RunningDashboard;
  try {
    running = await startDashboard({ ...dashboardOptionsFromConfig(cfg), logger: createLogger() });
  } catch (err) {
    log.error('dashboard.start_failed', { err });
    process.stderr.write(`redslot dashboard: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`redslot dashboard ${running.id} listening on ${running.url} (coordinator ${cfg.coordinator})\n`);
  return await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log.info('dashboard.signal', { signal });
      const force = setTimeout(() => {
        log.error('dashboard.stop_timeout', {});
        resolve(1);
      }, 10_000);
      force.unref();
      running
        .close()
        .then(() => resolve(0))
        .catch((err: unknown) => {
          log.error('dashboard.stop_failed', { err });
          resolve(1);
        })
        .finally(() => clearTimeout(force));
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
