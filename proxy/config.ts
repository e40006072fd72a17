/**
 * Every proxy knob, with its default, validated once into typed values (durations in ms, sizes in bytes).
 * Layers (later wins): defaults < YAML/JSON file (--config) < REDSLOT_* environment < command-line flags.
 *
 *   cluster: default                  cluster name, used when the coordinator URL names none
 *   listen: 0.0.0.0:19000             RESP address
 *   admin: 0.0.0.0:11080              admin HTTP (metrics, health, /api/v1/proxy); '' disables it
 *   coordinator: ''                   '' = static topology below; etcd://h:p[,h:p][/cluster] or memory://[cluster]
 *   databases: 16                     SELECT 0..databases-1
 *   auth:                             client AUTH (README "Access control"); password only = the 'default' user
 *     user: '', password: ''          empty password = no auth (passwordFile: read it from a file)
 *     maxFailures: 10                 failed AUTH attempts on one connection before it is closed (0 = unlimited)
 *     timeout: 10s                    a connection that must authenticate and does not is closed (0 = never)
 *     maxUnauthenticated: 100         connections waiting unauthenticated at once; more are refused at accept
 *   acl: { users: [], file: '' }      ACL users, aclfile lines (`user ro on #<sha256> ~app:* +@read`) / an aclfile
 *   tls:                              TLS for clients (README "TLS"): cert + key turn it on
 *     cert: '', key: '', ca: ''       PEM files; ca = CA of client certificates
 *     clientAuth: no                  no | optional | yes (require a client certificate signed by ca)
 *     listen: ''                      '' = `listen` serves TLS only; an address = TLS there, plain on `listen`
 *     reloadInterval: 2s              files polled; a changed certificate is used for new connections
 *   adminTls: { cert, key, ca, clientAuth, reloadInterval }   HTTPS on the admin port (same fields as tls)
 *   etcd: { user: '', password: '', tls: { enabled: false, ca: '', cert: '', key: '' } }   etcd auth / TLS
 *                                     (passwordFile: from a file; role redslot-proxy, README "etcd authentication")
 *   protectedMode: true               no password for the default user: serve loopback clients only
 *   adminToken: ''                    bearer token for the admin port's non-probe endpoints (adminTokenFile: from a
 *                                     file); without one they answer loopback clients only
 *   limits:
 *     maxClients: 1000                beyond: "-ERR max number of clients reached", close
 *     maxPipeline: 10000              requests in flight per client before its socket is paused
 *     idleTimeout: 0                  close clients idle this long (0 = never, like Redis; Codis: 30m)
 *     maxBulkBytes: 512mb             largest bulk string (keep <= the backends' proto-max-bulk-len)
 *     maxArrayLength: 1048576         most arguments per request
 *     maxInlineBytes: 64kb            longest inline request
 *     maxClientOutput: 1gb            replies buffered for a client that does not read them; beyond, it is
 *                                     closed (Redis's client-output-buffer-limit); 0 = unlimited
 *   backend:
 *     connectionsPerServer: 1         pipelined connections per (server, db); a client sticks to one of them
 *     dialTimeout: 3s                 TCP connect + AUTH/SELECT
 *     backoffMin: 50ms, backoffMax: 5s   reconnect backoff (doubling)
 *     replyTimeout: 30s               a connection with requests pending and no reply for this long is reset
 *     keepAlive: 75s                  TCP keep-alive
 *     user: '', password: ''          AUTH toward the backends (ACL user optional)
 *     tls: { enabled: false, ca: '', cert: '', key: '', servername: '' }   TLS toward the backends
 *     maxDedicated: 1000              dedicated connections per proxy (WATCH/MULTI, blocked commands, Pub/Sub
 *                                     subscribers); beyond, such commands get an error (never the shared ones)
 *     maxDedicatedPerServer: 1000     the same cap per backend server
 *     dedicatedIdle: 30s              a clean dedicated connection is kept this long for reuse (0 = close at once)
 *   migrate:
 *     timeout: 3s                     MIGRATE timeout for migrate-on-access
 *     bigKeyBytes: 8mb                keys larger than this are not MIGRATEd on the client path (TRYAGAIN; the mover moves them)
 *     sourceFirst: true               commands of a migrating slot whose keys are all still on the source run
 *                                     there (one EVAL) instead of MIGRATE-then-target (docs/migration.md)
 *   commands:
 *     refuseDangerous: false          true: refuse FLUSHDB, FLUSHALL, KEYS and CONFIG SET/RESETSTAT/REWRITE with
 *                                     an error naming this knob (default: behave like Redis)
 *   scripts:
 *     cacheSize: 64mb                 Lua bodies (SCRIPT LOAD, EVAL) kept by the proxy so EVALSHA never answers
 *                                     NOSCRIPT after slots move; least recently used evicted; 0 = keep none
 *   scan:
 *     settleTimeout: 10s              SCAN, at the end of its first pass over the groups: how long to wait for
 *                                     slots still migrating before rescanning the slots that moved
 *   load:
 *     count: true                     per-slot ops/bytes counters and hot-key sampling (false: off, for A/B)
 *     hotKeys: 64                     top-K entries of the hot-key sampler (Space-Saving); 0 = no sampling
 *     sampleEvery: 16                 one routed request in N (on average) is offered to the sampler
 *     maxKeyBytes: 256b               bytes of a sampled key kept (longer keys kept truncated, hashed whole)
 *     window: 10s                     hot keys are counted over the current and the previous window
 *   guard:                            no client can wedge a group, a proxy or the control plane (docs/guards.md)
 *     holdTimeout: 5s                 a request held for a locked slot longer than this gets -TRYAGAIN (0 = wait)
 *     drainTimeout: 60s               a topology change stops waiting for requests under old routes after this
 *                                     (logged, counted) and is acknowledged (0 = wait forever)
 *     maxQueryBuffer: 1gb             bytes of one client's unparsed request (Redis client-query-buffer-limit)
 *     maxClientsMemory: 0             all clients' buffers together; beyond, the biggest client is closed
 *                                     (Redis maxmemory-clients; 0 = no cap)
 *     pubsubOutput: 32mb 8mb 60       a subscriber's unread output: hard limit, soft limit, seconds over soft
 *                                     (Redis client-output-buffer-limit pubsub)
 *     maxMultiBytes: 256mb            commands queued after MULTI; beyond, the transaction is discarded
 *     maxMergedReply: 512mb           a cluster-wide reply (KEYS, ...) merged from every group
 *   slowlog: { slowerThan: 10000, maxLen: 128 }   SLOWLOG: end-to-end latency in µs (-1 = off), entries kept
 *   reads: master                     master | replica-preferred: where read-only single-slot commands go by
 *                                     default (READONLY / READWRITE switch one connection)
 *   replicaMaxLag: 1s                 a replica serves reads only while its link is up and it is at most this
 *                                     far behind its master (measured by the proxy every reachability.interval)
 *   reachability:                     what this proxy tells the dashboard about its backends (failover votes)
 *     interval: 500ms                 PING every master this often (0 = report nothing)
 *     timeout: 1s                     a PING without a reply within this counts as unreachable
 *   fencing: strict                   strict (the only mode; 'off' is refused): stop serving when the coordinator lease cannot be renewed
 *   leaseTtl: 10s
 *   shutdownDeadline: 10s             SIGTERM: time to finish in-flight commands before closing clients
 *   workers: auto                     worker processes sharing the port (auto = CPUs, capped by a cgroup CPU
 *                                     quota; 1 = one process)
 *   topology: { groups: [{ id, servers: [{ addr, role }] }], slots: [[from, to, group], ...] }   static topology
 */
import { CommonErrors, RedslotError } from '../shared/errors.js';
import {
  deepMerge,
  parseBool,
  envOverrides,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseIntInRange,
  parseSize,
  readConfigFile,
} from '../shared/config.js';
import { checkSecretLength, secretValue } from '../shared/secrets.js';
import { SLOT_COUNT } from '../shared/slot.js';
import { parseEtcdSecurity, redactEtcdSecurity, type EtcdSecurity } from '../shared/coordinator/etcd-security.js';
import { parseTlsClient, parseTlsListener, type TlsClientConfig, type TlsListenerConfig } from '../shared/tls/config.js';
import { AclUsers } from './acl/users.js';
import { availableCpus } from './workers/cpus.js';
import type { GroupRecord, ServerRole } from '../shared/model/types.js';

export interface StaticTopologyConfig {
  groups: GroupRecord[];
  /** [from, to, group] inclusive ranges. */
  slots: Array<[number, number, number]>;
}

/** Client limits in bytes and deadlines (docs/guards.md). */
export interface GuardConfig {
  holdTimeoutMs: number;
  drainTimeoutMs: number;
  maxQueryBufferBytes: number;
  maxClientsMemoryBytes: number;
  pubsubOutput: { hardBytes: number; softBytes: number; softSeconds: number };
  maxMultiBytes: number;
  maxMergedReplyBytes: number;
}

export interface ProxyConfig {
  cluster: string;
  listen: { host: string; port: number };
  /** null = no admin HTTP server. */
  admin: { host: string; port: number } | null;
  coordinator: string;
  databases: number;
  auth: { user: string; password: string; maxFailures: number; timeoutMs: number; maxUnauthenticated: number };
  /** ACL users: aclfile lines and an aclfile path (proxy/acl/). */
  acl: { users: string[]; file: string };
  protectedMode: boolean;
  /** etcd authentication and TLS for etcd:// coordinators. */
  etcd: EtcdSecurity;
  /** TLS toward clients; null = plain only. listen null = the `listen` address itself serves TLS. */
  tls: (TlsListenerConfig & { listen: { host: string; port: number } | null }) | null;
  /** HTTPS on the admin port (same certificate polling as tls.*); null = plain HTTP. */
  adminTls: TlsListenerConfig | null;
  /** Bearer token for the admin port's non-probe endpoints; '' = loopback clients only. */
  adminToken: string;
  limits: {
    maxClients: number;
    maxPipeline: number;
    idleTimeoutMs: number;
    maxBulkBytes: number;
    maxArrayLength: number;
    maxInlineBytes: number;
    maxClientOutputBytes: number;
  };
  backend: {
    connectionsPerServer: number;
    dialTimeoutMs: number;
    backoffMinMs: number;
    backoffMaxMs: number;
    replyTimeoutMs: number;
    keepAliveMs: number;
    user: string;
    password: string;
    maxDedicated: number;
    maxDedicatedPerServer: number;
    dedicatedIdleMs: number;
    /** TLS toward the Redis servers; null = plain TCP. */
    tls: TlsClientConfig | null;
  };
  migrate: { timeoutMs: number; sourceFirst: boolean; bigKeyBytes: number };
  commands: { refuseDangerous: boolean };
  scripts: { cacheBytes: number };
  scan: { settleTimeoutMs: number };
  /** Per-slot load counters and the hot-key sampler (proxy/load/). */
  load: { count: boolean; hotKeys: number; sampleEvery: number; maxKeyBytes: number; windowMs: number };
  guard: GuardConfig;
  slowlog: { slowerThanUs: number; maxLen: number };
  reachability: { intervalMs: number; timeoutMs: number };
  reads: 'master' | 'replica-preferred';
  replicaMaxLagMs: number;
  /** Always 'strict': 'off' was removed in issue 15 (see parseFencing). */
  fencing: 'strict';
  leaseTtlMs: number;
  shutdownDeadlineMs: number;
  topology: StaticTopologyConfig | null;
  /**
   * Proxy worker processes sharing the listening port (`redslot proxy`; proxy/workers/); 1 = one process.
   * startProxy() (in-process: tests, `redslot up`) always runs one process.
   */
  workers: number;
}

/** Raw defaults, in the file's vocabulary (strings where the file would hold strings). */
export const PROXY_DEFAULTS = {
  cluster: 'default',
  listen: '0.0.0.0:19000',
  admin: '0.0.0.0:11080',
  coordinator: '',
  databases: 16,
  auth: { user: '', password: '', passwordFile: '', maxFailures: 10, timeout: '10s', maxUnauthenticated: 100 },
  acl: { users: [] as string[], file: '' },
  protectedMode: true,
  etcd: { user: '', password: '', passwordFile: '', tls: { enabled: false, ca: '', cert: '', key: '' } },
  tls: { listen: '', cert: '', key: '', ca: '', clientAuth: 'no', reloadInterval: '2s' },
  adminTls: { cert: '', key: '', ca: '', clientAuth: 'no', reloadInterval: '2s' },
  adminToken: '',
  adminTokenFile: '',
  limits: {
    maxClients: 1000,
    maxPipeline: 10000,
    idleTimeout: '0',
    maxBulkBytes: '512mb',
    maxArrayLength: 1048576,
    maxInlineBytes: '64kb',
    maxClientOutput: '1gb',
  },
  backend: {
    connectionsPerServer: 1,
    dialTimeout: '3s',
    backoffMin: '50ms',
    backoffMax: '5s',
    replyTimeout: '30s',
    keepAlive: '75s',
    user: '',
    password: '',
    passwordFile: '',
    maxDedicated: 1000,
    maxDedicatedPerServer: 1000,
    dedicatedIdle: '30s',
    tls: { enabled: false, ca: '', cert: '', key: '', servername: '' },
  },
  migrate: { timeout: '3s', sourceFirst: true, bigKeyBytes: '8mb' },
  commands: { refuseDangerous: false },
  scripts: { cacheSize: '64mb' },
  scan: { settleTimeout: '10s' },
  load: { count: true, hotKeys: 64, sampleEvery: 16, maxKeyBytes: '256b', window: '10s' },
  guard: {
    holdTimeout: '5s',
    drainTimeout: '60s',
    maxQueryBuffer: '1gb',
    maxClientsMemory: '0',
    pubsubOutput: '32mb 8mb 60',
    maxMultiBytes: '256mb',
    maxMergedReply: '512mb',
  },
  slowlog: { slowerThan: 10000, maxLen: 128 },
  reachability: { interval: '500ms', timeout: '1s' },
  reads: 'master',
  replicaMaxLag: '1s',
  fencing: 'strict',
  leaseTtl: '10s',
  shutdownDeadline: '10s',
  workers: 'auto',
  topology: null as unknown,
};

/**
 * `fencing: off` promised that the control plane waits for a proxy cut off from the coordinator, but the
 * barrier can only count proxies with a live lease: an `off` proxy past its lease kept routing on a stale
 * table while slots moved (lost writes). Honouring it would block every migration on one unreachable
 * proxy, so the mode is gone; an old config naming it fails loudly instead of silently changing meaning.
 */
function parseFencing(v: unknown): 'strict' {
  if (v === 'off') {
    throw invalid(
      "fencing: 'off' is no longer supported (a proxy that keeps serving past its lease can route writes to a slot's old group); remove the key or set fencing: strict",
    );
  }
  return parseEnum(v, 'fencing', ['strict'] as const);
}

function invalid(reason: string): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason });
}

function str(v: unknown, name: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw invalid(`${name}: expected a string (got ${JSON.stringify(v)})`);
}

function obj(v: unknown, name: string): Record<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  throw invalid(`${name}: expected a mapping`);
}

export function parseStaticTopology(v: unknown): StaticTopologyConfig | null {
  if (v === null || v === undefined || v === '') return null;
  const t = obj(typeof v === 'string' ? (JSON.parse(v) as unknown) : v, 'topology');
  if (!Array.isArray(t.groups)) throw invalid('topology.groups: expected a list');
  const groups: GroupRecord[] = t.groups.map((g: unknown, i: number) => {
    const go = obj(g, `topology.groups[${i}]`);
    const id = parseIntInRange(go.id, `topology.groups[${i}].id`, 1, 9999);
    if (!Array.isArray(go.servers)) throw invalid(`topology.groups[${i}].servers: expected a list`);
    const servers = go.servers.map((s: unknown, j: number) => {
      const so = typeof s === 'string' ? { addr: s, role: j === 0 ? 'master' : 'replica' } : obj(s, `topology.groups[${i}].servers[${j}]`);
      const addr = str(so.addr, `topology.groups[${i}].servers[${j}].addr`);
      parseHostPort(addr, `topology.groups[${i}].servers[${j}].addr`);
      const role = parseEnum<ServerRole>(so.role ?? (j === 0 ? 'master' : 'replica'), `topology.groups[${i}].servers[${j}].role`, ['master', 'replica']);
      return { addr, role };
    });
    if (servers.filter((s) => s.role === 'master').length > 1) throw invalid(`topology.groups[${i}]: more than one master`);
    return { id, servers, weight: go.weight === undefined ? 1 : Number(go.weight) };
  });
  const ids = new Set<number>();
  for (const g of groups) {
    if (ids.has(g.id)) throw invalid(`topology.groups: duplicate id ${g.id}`);
    ids.add(g.id);
  }
  const rawSlots = t.slots ?? [];
  if (!Array.isArray(rawSlots)) throw invalid('topology.slots: expected a list of [from, to, group]');
  const slots = rawSlots.map((r: unknown, i: number): [number, number, number] => {
    if (!Array.isArray(r) || r.length !== 3) throw invalid(`topology.slots[${i}]: expected [from, to, group]`);
    const from = parseIntInRange(r[0], `topology.slots[${i}][0]`, 0, SLOT_COUNT - 1);
    const to = parseIntInRange(r[1], `topology.slots[${i}][1]`, from, SLOT_COUNT - 1);
    const group = parseIntInRange(r[2], `topology.slots[${i}][2]`, 0, 9999);
    if (group !== 0 && !ids.has(group)) throw invalid(`topology.slots[${i}]: group ${group} is not defined`);
    return [from, to, group];
  });
  return { groups, slots };
}

function parseGuard(g: Record<string, unknown>): GuardConfig {
  const d = PROXY_DEFAULTS.guard;
  const pubsub = str(g.pubsubOutput ?? d.pubsubOutput, 'guard.pubsubOutput').trim().split(/\s+/);
  if (pubsub.length !== 3) throw invalid('guard.pubsubOutput: expected "<hard> <soft> <seconds>", e.g. "32mb 8mb 60"');
  return {
    holdTimeoutMs: parseDuration(g.holdTimeout ?? d.holdTimeout, 'guard.holdTimeout'),
    drainTimeoutMs: parseDuration(g.drainTimeout ?? d.drainTimeout, 'guard.drainTimeout'),
    maxQueryBufferBytes: parseSize(g.maxQueryBuffer ?? d.maxQueryBuffer, 'guard.maxQueryBuffer'),
    maxClientsMemoryBytes: parseSize(g.maxClientsMemory ?? d.maxClientsMemory, 'guard.maxClientsMemory'),
    pubsubOutput: {
      hardBytes: parseSize(pubsub[0], 'guard.pubsubOutput hard limit'),
      softBytes: parseSize(pubsub[1], 'guard.pubsubOutput soft limit'),
      softSeconds: parseIntInRange(pubsub[2], 'guard.pubsubOutput seconds', 0, 2 ** 31 - 1),
    },
    maxMultiBytes: parseSize(g.maxMultiBytes ?? d.maxMultiBytes, 'guard.maxMultiBytes'),
    maxMergedReplyBytes: parseSize(g.maxMergedReply ?? d.maxMergedReply, 'guard.maxMergedReply'),
  };
}

/** Shortest admin token accepted (it guards /api/v1 from the network). */
export const ADMIN_TOKEN_MIN = 16;

/** acl.users (a list of aclfile lines, or one string of lines) and acl.file; every rule checked now. */
function parseAclConfig(v: unknown): ProxyConfig['acl'] {
  const a = obj(v ?? {}, 'acl');
  const raw = a.users ?? [];
  const users = typeof raw === 'string' ? raw.split('\n').filter((l) => l.trim() !== '') : raw;
  if (!Array.isArray(users)) throw invalid('acl.users: expected a list of ACL lines (`user <name> <rules...>`)');
  const acl = { users: users.map((u, i) => str(u, `acl.users[${i}]`)), file: str(a.file ?? '', 'acl.file') };
  try {
    new AclUsers({ auth: { user: '', password: '' }, acl });
  } catch (err) {
    throw invalid(`acl: ${(err as Error).message}`);
  }
  return acl;
}

/** The client-facing TLS block (tls.*). */
function parseClientTls(v: unknown): ProxyConfig['tls'] {
  const o = obj(v ?? {}, 'tls');
  const server = parseTlsListener(o, 'tls');
  if (server === null) return null;
  const listen = str(o.listen ?? '', 'tls.listen');
  return { ...server, listen: listen === '' ? null : parseHostPort(listen, 'tls.listen') };
}

/** Validates a merged raw object into a ProxyConfig. */
export function validateProxyConfig(raw: Record<string, unknown>): ProxyConfig {
  const limits = obj(raw.limits, 'limits');
  const backend = obj(raw.backend, 'backend');
  const auth = obj(raw.auth, 'auth');
  const migrate = obj(raw.migrate, 'migrate');
  const commands = obj(raw.commands ?? {}, 'commands');
  const scripts = obj(raw.scripts ?? {}, 'scripts');
  const scan = obj(raw.scan ?? {}, 'scan');
  const load = obj(raw.load ?? {}, 'load');
  const loadWindowMs = parseDuration(load.window ?? '10s', 'load.window');
  if (loadWindowMs < 1000) throw invalid('load.window must be at least 1s');
  const slowlog = obj(raw.slowlog ?? {}, 'slowlog');
  const reach = obj(raw.reachability ?? {}, 'reachability');
  const adminStr = raw.admin === null || raw.admin === false ? '' : str(raw.admin, 'admin');
  const backoffMinMs = parseDuration(backend.backoffMin, 'backend.backoffMin');
  const backoffMaxMs = parseDuration(backend.backoffMax, 'backend.backoffMax');
  if (backoffMaxMs < backoffMinMs) throw invalid('backend.backoffMax must be >= backend.backoffMin');
  return {
    cluster: str(raw.cluster, 'cluster'),
    listen: parseHostPort(str(raw.listen, 'listen'), 'listen'),
    admin: adminStr === '' ? null : parseHostPort(adminStr, 'admin'),
    coordinator: str(raw.coordinator ?? '', 'coordinator'),
    databases: parseIntInRange(raw.databases, 'databases', 1, 1024),
    auth: {
      user: str(auth.user ?? '', 'auth.user'),
      password: secretValue(auth, 'password', 'auth.password'),
      maxFailures: parseIntInRange(auth.maxFailures ?? 10, 'auth.maxFailures', 0, 1_000_000),
      timeoutMs: parseDuration(auth.timeout ?? '10s', 'auth.timeout'),
      maxUnauthenticated: parseIntInRange(auth.maxUnauthenticated ?? 100, 'auth.maxUnauthenticated', 1, 10_000_000),
    },
    acl: parseAclConfig(raw.acl),
    protectedMode: parseBool(raw.protectedMode ?? true, 'protectedMode'),
    etcd: parseEtcdSecurity(raw.etcd, 'etcd'),
    tls: parseClientTls(raw.tls),
    adminTls: parseTlsListener(raw.adminTls, 'adminTls'),
    adminToken: checkSecretLength(secretValue(raw, 'adminToken', 'adminToken'), ADMIN_TOKEN_MIN, 'adminToken'),
    limits: {
      maxClients: parseIntInRange(limits.maxClients, 'limits.maxClients', 1, 10_000_000),
      maxPipeline: parseIntInRange(limits.maxPipeline, 'limits.maxPipeline', 1, 10_000_000),
      idleTimeoutMs: parseDuration(limits.idleTimeout, 'limits.idleTimeout'),
      maxBulkBytes: parseSize(limits.maxBulkBytes, 'limits.maxBulkBytes'),
      maxArrayLength: parseIntInRange(limits.maxArrayLength, 'limits.maxArrayLength', 1, 2 ** 31 - 1),
      maxInlineBytes: parseSize(limits.maxInlineBytes, 'limits.maxInlineBytes'),
      maxClientOutputBytes: parseSize(limits.maxClientOutput, 'limits.maxClientOutput'),
    },
    backend: {
      connectionsPerServer: parseIntInRange(backend.connectionsPerServer, 'backend.connectionsPerServer', 1, 64),
      dialTimeoutMs: parseDuration(backend.dialTimeout, 'backend.dialTimeout'),
      backoffMinMs,
      backoffMaxMs,
      replyTimeoutMs: parseDuration(backend.replyTimeout, 'backend.replyTimeout'),
      keepAliveMs: parseDuration(backend.keepAlive, 'backend.keepAlive'),
      user: str(backend.user ?? '', 'backend.user'),
      password: secretValue(backend, 'password', 'backend.password'),
      maxDedicated: parseIntInRange(backend.maxDedicated, 'backend.maxDedicated', 1, 1_000_000),
      maxDedicatedPerServer: parseIntInRange(backend.maxDedicatedPerServer, 'backend.maxDedicatedPerServer', 1, 1_000_000),
      dedicatedIdleMs: parseDuration(backend.dedicatedIdle, 'backend.dedicatedIdle'),
      tls: parseTlsClient(backend.tls, 'backend.tls'),
    },
    migrate: {
      timeoutMs: parseDuration(migrate.timeout, 'migrate.timeout'),
      sourceFirst: parseBool(migrate.sourceFirst ?? true, 'migrate.sourceFirst'),
      bigKeyBytes: parseSize(migrate.bigKeyBytes ?? '8mb', 'migrate.bigKeyBytes'),
    },
    commands: { refuseDangerous: parseBool(commands.refuseDangerous ?? false, 'commands.refuseDangerous') },
    scripts: { cacheBytes: parseSize(scripts.cacheSize ?? '64mb', 'scripts.cacheSize') },
    scan: { settleTimeoutMs: parseDuration(scan.settleTimeout ?? '10s', 'scan.settleTimeout') },
    load: {
      count: parseBool(load.count ?? true, 'load.count'),
      hotKeys: parseIntInRange(load.hotKeys ?? 64, 'load.hotKeys', 0, 4096),
      sampleEvery: parseIntInRange(load.sampleEvery ?? 16, 'load.sampleEvery', 1, 1_000_000),
      maxKeyBytes: parseIntInRange(parseSize(load.maxKeyBytes ?? '256b', 'load.maxKeyBytes'), 'load.maxKeyBytes', 16, 65536),
      windowMs: loadWindowMs,
    },
    guard: parseGuard(obj(raw.guard ?? {}, 'guard')),
    slowlog: {
      slowerThanUs: parseIntInRange(slowlog.slowerThan ?? 10000, 'slowlog.slowerThan', -1, 2 ** 31 - 1),
      maxLen: parseIntInRange(slowlog.maxLen ?? 128, 'slowlog.maxLen', 0, 1_000_000),
    },
    reachability: {
      intervalMs: parseDuration(reach.interval ?? '500ms', 'reachability.interval'),
      timeoutMs: Math.max(50, parseDuration(reach.timeout ?? '1s', 'reachability.timeout')),
    },
    reads: parseEnum(raw.reads ?? 'master', 'reads', ['master', 'replica-preferred'] as const),
    replicaMaxLagMs: parseDuration(raw.replicaMaxLag ?? '1s', 'replicaMaxLag'),
    fencing: parseFencing(raw.fencing),
    leaseTtlMs: parseDuration(raw.leaseTtl, 'leaseTtl'),
    shutdownDeadlineMs: parseDuration(raw.shutdownDeadline, 'shutdownDeadline'),
    topology: parseStaticTopology(raw.topology),
    workers: raw.workers === 'auto' || raw.workers === 0 || raw.workers === '0' ? availableCpus() : parseIntInRange(raw.workers, 'workers', 1, 256),
  };
}

/** Command-line flags: `--config FILE`, `--listen ADDR`, `--limits.max-clients N`, `--key=value`. */
export function parseProxyFlags(argv: string[]): { file?: string; overrides: Record<string, unknown>; help: boolean } {
  const overrides: Record<string, unknown> = {};
  let file: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!a.startsWith('--')) throw invalid(`unexpected argument ${JSON.stringify(a)}`);
    let key = a.slice(2);
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      value = argv[++i];
      if (value === undefined) throw invalid(`flag --${key} needs a value`);
    }
    if (key === 'config' || key === 'c') {
      file = value;
      continue;
    }
    const path = key.split('.').map((p) => p.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
    let at = overrides;
    for (const p of path.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[path[path.length - 1]!] = value;
  }
  return { file, overrides, help };
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Already-structured overrides (flags, or tests). */
  overrides?: Record<string, unknown>;
}

export function loadProxyConfig(opts: LoadOptions = {}): ProxyConfig {
  const fromFile = opts.file ? readConfigFile(opts.file) : undefined;
  const fromEnv = envOverrides(PROXY_DEFAULTS as Record<string, unknown>, opts.env ?? process.env);
  const merged = deepMerge(PROXY_DEFAULTS as Record<string, unknown>, fromFile, fromEnv, opts.overrides);
  return validateProxyConfig(merged);
}

/** The config as shown on /api/v1/proxy: secrets replaced by a marker. */
export function redactConfig(c: ProxyConfig): Record<string, unknown> {
  const hide = (s: string) => (s === '' ? '' : '***');
  return {
    ...c,
    coordinator: c.coordinator.replace(/\/\/[^@/]*@/, '//***@'),
    auth: { ...c.auth, password: hide(c.auth.password) },
    adminToken: hide(c.adminToken),
    // Password digests are as good as weak passwords: not shown either.
    acl: { ...c.acl, users: c.acl.users.map((l) => l.replace(/#[0-9a-fA-F]{64}/g, '#***')) },
    etcd: redactEtcdSecurity(c.etcd),
    backend: { ...c.backend, password: hide(c.backend.password) },
  };
}

