/**
 * Dashboard configuration: defaults, then a YAML/JSON file (--config), then REDSLOT_DASHBOARD_* environment
 * variables, then flags. Every knob is one entry of DashboardKnobs below (default, description, check);
 * validated once into `DashboardConfig` (durations in ms), derived from the schema.
 *
 * File example:
 *   coordinator: etcd://10.0.0.5:2379/prod
 *   listen: 127.0.0.1:18080
 *   tokens:
 *     - { name: alice, token: "s3cret-operator", role: operator }
 *     - { name: grafana, token: "s3cret-viewer", role: viewer }
 *   openReads: false
 *   leaseTtl: 5s
 *   tls: { cert: /tls/tls.crt, key: /tls/tls.key }   HTTPS (ca + clientAuth: yes for client certificates)
 *   redisTls: { ca: /tls/ca.crt }                    TLS toward the redis-servers (as the proxies' backend.tls)
 */
import { randomBytes } from 'node:crypto';
import { Type, type StaticDecode } from 'typebox';
import { deepMerge, envOverrides, invalidConfig, readConfigFile } from '../shared/config.js';
import { Bool, Duration, Enum, HostPortString, Int, Str } from '../shared/config/knobs.js';
import { decodeConfig, rawDefaults } from '../shared/config/validate.js';
import { EtcdKnobs } from '../shared/coordinator/etcd-schema.js';
import { secretValue } from '../shared/secrets.js';
import { TlsClientSection, TlsListenerKnobs } from '../shared/tls/schema.js';
import { FailoverKnobs } from './failover/config.js';
import { SplitConfigKnobs } from './migration/split/config.js';

export const DEFAULT_DASHBOARD_PORT = 18080;


const TokenKnobs = Type.Object(
  {
    name: Str('', 'shown in the audit log as "who" (default token<i>)'),
    token: Type.String({ minLength: 8, default: '', description: 'the bearer token', expected: 'a token of at least 8 characters', secret: true }),
    role: Enum('operator', ['operator', 'viewer'], 'operator (may change things) or viewer (reads only)'),
  },
  { expected: '{ name, token, role }' },
);

export type TokenSpec = StaticDecode<typeof TokenKnobs>;
export type TokenRole = TokenSpec['role'];

/** Every dashboard knob; DashboardConfig is derived from it, docs/configuration.md's table generated from it. */
export const DashboardKnobs = Type.Decode(
  Type.Object({
    coordinator: Str('', 'coordinator URL (required): `etcd://10.0.0.5:2379/prod` or `memory://cluster`', { docDefault: '–' }),
    listen: HostPortString(`127.0.0.1:${DEFAULT_DASHBOARD_PORT}`, 'HTTP address'),
    advertise: Type.Union([Type.Literal(''), Type.String({ format: 'redslot-host-port' })], {
      default: '',
      docDefault: 'listen address',
      description: 'address announced to other dashboards and the CLI (default: listen, with the real port)',
      expected: 'host:port',
    }),
    token: Str('', 'one operator token (at least 8 characters)', { secret: true, docDefault: '–' }),
    tokenFile: Str('', 'read the operator token from a file (never on argv)', { docDefault: '–' }),
    tokens: Type.Array(TokenKnobs, {
      default: [],
      description: 'tokens as a list `{name, token, role: operator|viewer}`',
      expected: 'a list of { name, token, role }',
    }),
    etcd: EtcdKnobs('redslot-dashboard'),
    tls: TlsListenerKnobs('tls', 'HTTPS for the API and UI (docs/security.md)'),
    redisTls: TlsClientSection('redisTls', "TLS toward the Redis servers (the proxies' `backend.tls`): control plane, migration, failover"),
    proxyAdminTls: TlsClientSection('proxyAdminTls', "HTTPS toward the proxies' admin ports, when they serve `adminTls`"),
    openReads: Bool(false, 'serve GET endpoints without a token'),
    openMetrics: Bool(true, 'serve `/metrics` without a token (Prometheus scrapes; it holds no secrets)'),
    leaseTtlMs: Duration('5s', 'leader lease (at least 1s): a standby takes over within this', { from: 'leaseTtl' }),
    barrierTimeoutMs: Duration('30s', "how long a step waits for every live proxy's acknowledgement", { from: 'barrierTimeout' }),
    statsIntervalMs: Duration('1s', 'overview polling interval (at least 100ms)', { from: 'statsInterval' }),
    statsHistory: Int(300, 1, 100_000, 'points of overview history kept in memory (the UI charts them)'),
    dialTimeoutMs: Duration('2s', 'timeout of control-plane commands to Redis servers and proxies', { from: 'dialTimeout' }),
    redisPassword: Str('', 'AUTH password toward the Redis servers', { secret: true }),
    redisUsername: Str('', 'AUTH user toward the Redis servers (ACL user optional)'),
    assignScanMaxKeys: Int(1_000_000, 0, 1_000_000_000, 'refuse reassigning an owned slot if checking that it is empty would SCAN more keys than this'),
    auditRetain: Int(10_000, 10, 10_000_000, 'audit entries kept in the coordinator (older ones are trimmed by the leader)'),
    failover: FailoverKnobs,
    split: SplitConfigKnobs,
    logLevel: Enum('', ['', 'debug', 'info', 'warn', 'error', 'silent'], "log level: debug, info, warn, error, silent ('' = the process default: REDSLOT_LOG_LEVEL, else info)", {
      expected: 'one of debug, info, warn, error, silent',
    }),
  }),
  (c) => {
    if (c.coordinator === '') throw invalidConfig('coordinator: required (--coordinator etcd://host:port/cluster or memory://cluster)');
    const tokens: TokenSpec[] = [];
    const single = secretValue(c, 'token', 'token');
    if (single !== '') tokens.push({ name: 'operator', token: single, role: 'operator' });
    for (const [i, t] of c.tokens.entries()) tokens.push({ ...t, name: t.name === '' ? `token${i}` : t.name });
    if (tokens.length === 0) {
      throw invalidConfig('no token configured: set --token, REDSLOT_DASHBOARD_TOKEN or tokens: in the config file');
    }
    return {
      coordinator: c.coordinator,
      listen: c.listen,
      /** host:port other dashboards and the CLI should use for this one (undefined: listen, real port). */
      advertise: c.advertise === '' ? undefined : c.advertise,
      tokens,
      openReads: c.openReads,
      openMetrics: c.openMetrics,
      leaseTtlMs: Math.max(1000, c.leaseTtlMs),
      barrierTimeoutMs: c.barrierTimeoutMs,
      statsIntervalMs: Math.max(100, c.statsIntervalMs),
      statsHistory: c.statsHistory,
      dialTimeoutMs: c.dialTimeoutMs,
      redisPassword: c.redisPassword || undefined,
      redisUsername: c.redisUsername || undefined,
      assignScanMaxKeys: c.assignScanMaxKeys,
      auditRetain: c.auditRetain,
      failover: c.failover,
      split: c.split,
      etcd: c.etcd,
      tls: c.tls,
      redisTls: c.redisTls,
      proxyAdminTls: c.proxyAdminTls,
      logLevel: c.logLevel === '' ? undefined : c.logLevel,
    };
  },
);

export type DashboardConfig = StaticDecode<typeof DashboardKnobs>;

/** Raw defaults in the file's vocabulary (the REDSLOT_DASHBOARD_* names derive from them). */
const DEFAULTS = rawDefaults(DashboardKnobs);

/** Validates a raw (merged) config object. */
export function parseDashboardConfig(raw: Record<string, unknown>): DashboardConfig {
  return decodeConfig(DashboardKnobs, raw);
}

/** Reads file + env + flags (flags already parsed into a raw object) into a validated config. */
export function loadDashboardConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): DashboardConfig {
  const file = typeof flags['config'] === 'string' ? readConfigFile(flags['config']) : {};
  const fromEnv = envOverrides(DEFAULTS, env, 'REDSLOT_DASHBOARD_');
  const rest = { ...flags };
  delete rest['config'];
  return parseDashboardConfig(deepMerge({}, file, fromEnv, rest));
}

/** A random token for local clusters (`redslot up`). */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
