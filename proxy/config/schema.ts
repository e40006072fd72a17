/**
 * Every proxy knob: name, default, description and how it is checked and decoded (shared/config/knobs.ts).
 * ProxyConfig is derived from this schema; docs/configuration.md's proxy table is generated from it
 * (`npm run gen:docs`). Sections with their own concern live beside this file (access, backend, limits,
 * topology).
 */
import { Type, type StaticDecode } from 'typebox';
import { invalidConfig, parseHostPort, parseIntInRange } from '../../shared/config.js';
import { Bool, Duration, Enum, HostPort, Int, Section, Size, Str } from '../../shared/config/knobs.js';
import { withoutKeys } from '../../shared/config/validate.js';
import { EtcdKnobs } from '../../shared/coordinator/etcd-schema.js';
import { TlsListenerKnobs } from '../../shared/tls/schema.js';
import { isLoopbackHost } from '../../shared/loopback.js';
import { checkSecretLength, secretValue } from '../../shared/secrets.js';
import { autoWorkers } from '../workers/cpus.js';
import { AclKnobs, AuthKnobs, ClientTlsKnobs } from './access.js';
import { BackendKnobs, MigrateKnobs } from './backend.js';
import { GuardKnobs, LimitsKnobs } from './limits.js';
import { TopologyKnob } from './topology.js';

/** Shortest admin token accepted (it guards /api/v1 from the network). */
export const ADMIN_TOKEN_MIN = 16;

const LoadKnobs = Type.Decode(
  Section(
    {
      count: Bool(true, 'per-slot request/byte counters and hot-key sampling, see [Hot slots and hot keys](load.md); `false` turns both off'),
      hotKeys: Int(64, 0, 4096, 'entries of the hot-key top-K (Space-Saving) per process; `0` = no hot-key sampling'),
      sampleEvery: Int(16, 1, 1_000_000, 'on average one routed key in N is offered to the top-K'),
      maxKeyBytes: Size('256b', 'bytes of a sampled key kept, 16b to 64kb (longer keys are kept truncated and told apart by a hash of the whole key); memory: 2 × hotKeys × maxKeyBytes'),
      windowMs: Duration('10s', 'hot keys are counted over the current and the previous window (at least `1s`)', { from: 'window' }),
    },
    'per-slot load counters and the hot-key sampler (docs/load.md)',
  ),
  (l) => {
    if (l.windowMs < 1000) throw invalidConfig('load.window must be at least 1s');
    return { ...l, maxKeyBytes: parseIntInRange(l.maxKeyBytes, 'load.maxKeyBytes', 16, 65536) };
  },
);

const ReachabilityKnobs = Type.Decode(
  Section(
    {
      intervalMs: Duration('500ms', 'how often the proxy PINGs every master (its failover vote, `health/<proxyId>`) and asks replicas for their lag; `0` = never', { from: 'interval' }),
      timeoutMs: Duration('1s', 'a probe without an answer within this (at least 50ms) counts as a failure', { from: 'timeout' }),
    },
    'what this proxy tells the dashboard about its backends (failover votes)',
  ),
  (r) => ({ ...r, timeoutMs: Math.max(50, r.timeoutMs) }),
);

/** 'auto' (or 0) = proxy/workers/cpus.ts autoWorkers. */
const WorkersKnob = Type.Decode(
  Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 256 })], {
    default: 'auto',
    description: 'worker processes sharing the port (`auto` = one per CPU given to the proxy by a cgroup CPU quota or a CPU affinity mask; on a machine given whole, its CPUs less one, at least 1: one process on 2 CPUs; `1` = one process); the primary follows the topology and acknowledges a revision only after every worker applied it. In-process proxies (tests, `redslot up`) always run one',
    expected: 'auto or an integer in [1, 256]',
  }),
  (w) => (w === 'auto' || w === 0 ? autoWorkers() : w),
);

/** Admin HTTP address; '' (or null/false in a file) = no admin server. */
const AdminKnob = Type.Decode(
  Type.Union([Type.Null(), Type.Literal(false), Type.Literal(''), Type.String({ format: 'redslot-host-port' })], {
    default: '0.0.0.0:11080',
    description: "admin HTTP address (metrics, health, /api/v1/proxy); `''` disables it",
    expected: 'host:port',
  }),
  (a) => (a === null || a === false || a === '' ? null : parseHostPort(a, 'admin')),
);

export const ProxyKnobs = Type.Decode(
  Type.Object({
    cluster: Str('default', 'cluster name (the coordinator key prefix), used when the coordinator URL names none'),
    listen: HostPort('0.0.0.0:19000', 'RESP address'),
    admin: AdminKnob,
    coordinator: Str('', "`etcd://host:port[,host:port]/cluster`, `memory://cluster`, or `''` for the static `topology` below"),
    databases: Int(16, 1, 1024, '`SELECT 0..databases-1`'),
    auth: AuthKnobs,
    acl: AclKnobs,
    protectedMode: Bool(true, 'no password for the default user: serve loopback clients only'),
    etcd: EtcdKnobs('redslot-proxy'),
    tls: ClientTlsKnobs,
    adminTls: TlsListenerKnobs('adminTls', 'HTTPS on the admin port (docs/security.md); same fields as `tls`, without `listen`'),
    adminToken: Str('', `bearer token (at least ${ADMIN_TOKEN_MIN} characters) for the admin port's non-probe endpoints; '' = they answer loopback clients only`, { secret: true }),
    adminTokenFile: Str('', 'read the admin token from this file instead (never on argv)'),
    limits: LimitsKnobs,
    backend: BackendKnobs,
    migrate: MigrateKnobs,
    commands: Section({ refuseDangerous: Bool(false, '`true` refuses FLUSHDB, FLUSHALL, KEYS, CONFIG SET/RESETSTAT/REWRITE with an error naming this knob (default: behave like Redis)') }),
    scripts: Section({ cacheBytes: Size('64mb', 'Lua bodies (SCRIPT LOAD, EVAL) kept so EVALSHA never answers NOSCRIPT after slots move; least recently used evicted; 0 = keep none', { from: 'cacheSize' }) }),
    scan: Section({ settleTimeoutMs: Duration('10s', 'SCAN: at the end of its first pass, how long to wait for slots still migrating before rescanning the slots that moved', { from: 'settleTimeout' }) }),
    load: LoadKnobs,
    guard: GuardKnobs,
    slowlog: Section({
      slowerThanUs: Int(10000, -1, 2 ** 31 - 1, 'SLOWLOG: commands whose end-to-end time in the proxy is at least this many µs (-1 = none, 0 = all)', { from: 'slowerThan' }),
      maxLen: Int(128, 0, 1_000_000, 'SLOWLOG entries kept (the newest)'),
    }),
    reachability: ReachabilityKnobs,
    reads: Enum('master', ['master', 'replica-preferred'], 'where read-only single-slot commands go by default (`READONLY` / `READWRITE` switch one connection), see [Failover and replica reads](failover.md)'),
    replicaMaxLagMs: Duration('1s', 'a replica serves reads only while its link is up and it is at most this far behind its master (measured every reachability.interval)', { from: 'replicaMaxLag' }),
    fencing: Enum('strict', ['strict'], "stop serving when the coordinator lease cannot be renewed; `strict` is the only mode (`off` is refused since issue 15), see [Fencing](operations.md#fencing)"),
    leaseTtlMs: Duration('10s', "lease TTL of the proxy's registration in the coordinator", { from: 'leaseTtl' }),
    shutdownDeadlineMs: Duration('10s', 'on SIGTERM: time to finish in-flight commands before clients are closed', { from: 'shutdownDeadline' }),
    workers: WorkersKnob,
    topology: TopologyKnob,
  }),
  (c) => ({
    ...withoutKeys(c, 'adminTokenFile'),
    auth: checkExposedPassword(c.auth, c.listen),
    adminToken: checkSecretLength(secretValue(c, 'adminToken', 'adminToken'), ADMIN_TOKEN_MIN, 'adminToken'),
  }),
);

/** A password shorter than auth.minPasswordLength is refused on a port reachable from the network. */
function checkExposedPassword<A extends { password: string; minPasswordLength: number }>(auth: A, listen: { host: string; port: number }): A {
  const { password, minPasswordLength: min } = auth;
  if (password === '' || password.length >= min || isLoopbackHost(listen.host)) return auth;
  throw invalidConfig(
    `auth.password: at least ${min} characters when the proxy listens beyond loopback (listen ${listen.host}:${listen.port}); use a longer password, listen on 127.0.0.1, or set auth.minPasswordLength: 0`,
  );
}

export type ProxyConfig = StaticDecode<typeof ProxyKnobs>;
/** Client limits in bytes and deadlines (docs/guards.md). */
export type GuardConfig = ProxyConfig['guard'];
