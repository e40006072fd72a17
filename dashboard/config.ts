/**
 * Dashboard configuration: defaults, then a YAML/JSON file (--config), then REDSLOT_DASHBOARD_* environment
 * variables, then flags. Validated once into `DashboardConfig` (durations in ms).
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
 *   proxyAdminTls: { ca: /tls/ca.crt }               the proxies' admin ports serve HTTPS (their adminTls)
 */
import { parseEtcdSecurity, type EtcdSecurity } from '../shared/coordinator/etcd-security.js';
import { secretValue } from '../shared/secrets.js';
import { parseTlsClient, parseTlsListener, type TlsClientConfig, type TlsListenerConfig } from '../shared/tls/config.js';
import { randomBytes } from 'node:crypto';
import { CommonErrors, RedslotError } from '../shared/errors.js';
import {
  deepMerge,
  envOverrides,
  parseBool,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseIntInRange,
  readConfigFile,
} from '../shared/config.js';
import { FAILOVER_DEFAULTS, parseFailoverConfig, type FailoverConfig } from './failover/config.js';

export type TokenRole = 'operator' | 'viewer';

export interface TokenSpec {
  /** Shown in the audit log as "who". */
  name: string;
  token: string;
  role: TokenRole;
}

export interface DashboardConfig {
  /** Coordinator URL (etcd://host:port/cluster or memory://cluster). */
  coordinator: string;
  /** host:port to listen on. */
  listen: string;
  /** host:port other dashboards and the CLI should use for this one (default: listen, real port). */
  advertise?: string;
  tokens: TokenSpec[];
  /** Allow GET endpoints without a token. */
  openReads: boolean;
  /** Serve /metrics without a token (Prometheus scrapes; no secrets in it). */
  openMetrics: boolean;
  /** Leader lease TTL. */
  leaseTtlMs: number;
  /** How long the barrier waits for every live proxy to acknowledge a revision. */
  barrierTimeoutMs: number;
  /** Stats poll interval. */
  statsIntervalMs: number;
  /** Points kept in the in-memory stats history. */
  statsHistory: number;
  /** Timeout for control-plane commands to redis-servers and proxies. */
  dialTimeoutMs: number;
  /** Password (and optional ACL user) the dashboard uses when dialling redis-servers. */
  redisPassword?: string;
  redisUsername?: string;
  /** Refuse reassigning an owned slot if checking its emptiness would SCAN more keys than this. */
  assignScanMaxKeys: number;
  /** Audit entries kept in the coordinator (older ones are trimmed by the leader). */
  auditRetain: number;
  /** Automatic failover (dashboard/failover/config.ts). */
  failover: FailoverConfig;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** etcd authentication (role redslot-dashboard) and TLS (shared/coordinator/etcd-security.ts). */
  etcd: EtcdSecurity;
  /** HTTPS for the API and UI (docs/security.md); null = plain HTTP. */
  tls: TlsListenerConfig | null;
  /** TLS toward the redis-servers (the proxies' backend.tls); null = plain TCP. */
  redisTls: TlsClientConfig | null;
  /** HTTPS toward the proxies' admin ports when they serve adminTls; null = http://. */
  proxyAdminTls: TlsClientConfig | null;
}

export const DEFAULT_DASHBOARD_PORT = 18080;

const DEFAULTS = {
  coordinator: '',
  listen: `127.0.0.1:${DEFAULT_DASHBOARD_PORT}`,
  advertise: '',
  token: '',
  tokenFile: '',
  tokens: [] as unknown[],
  etcd: { user: '', password: '', passwordFile: '', tls: { enabled: false, ca: '', cert: '', key: '' } },
  openReads: false,
  openMetrics: true,
  leaseTtl: '5s',
  barrierTimeout: '30s',
  statsInterval: '1s',
  statsHistory: 300,
  dialTimeout: '2s',
  redisPassword: '',
  redisUsername: '',
  assignScanMaxKeys: 1_000_000,
  auditRetain: 10_000,
  failover: FAILOVER_DEFAULTS,
  tls: { cert: '', key: '', ca: '', clientAuth: 'no', reloadInterval: '2s' },
  redisTls: { enabled: false, ca: '', cert: '', key: '', servername: '' },
  proxyAdminTls: { enabled: false, ca: '', cert: '', key: '', servername: '' },
  logLevel: '',
};

function invalid(reason: string): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason });
}

/** Validates a raw (merged) config object. */
export function parseDashboardConfig(raw: Record<string, unknown>): DashboardConfig {
  const merged = deepMerge(DEFAULTS as Record<string, unknown>, raw);
  const coordinator = String(merged['coordinator'] ?? '');
  if (coordinator === '') throw invalid('coordinator: required (--coordinator etcd://host:port/cluster or memory://cluster)');
  const listen = String(merged['listen']);
  parseHostPort(listen, 'listen');
  const advertise = String(merged['advertise'] ?? '');
  if (advertise !== '') parseHostPort(advertise, 'advertise');
  const tokens: TokenSpec[] = [];
  const single = secretValue(merged, 'token', 'token');
  if (single !== '') tokens.push({ name: 'operator', token: single, role: 'operator' });
  const list = merged['tokens'];
  if (!Array.isArray(list)) throw invalid('tokens: expected a list of { name, token, role }');
  for (const [i, t] of list.entries()) {
    if (t === null || typeof t !== 'object') throw invalid(`tokens[${i}]: expected { name, token, role }`);
    const o = t as Record<string, unknown>;
    const token = String(o['token'] ?? '');
    if (token.length < 8) throw invalid(`tokens[${i}].token: at least 8 characters`);
    tokens.push({
      name: String(o['name'] ?? `token${i}`),
      token,
      role: parseEnum(o['role'] ?? 'operator', `tokens[${i}].role`, ['operator', 'viewer'] as const),
    });
  }
  if (tokens.length === 0) {
    throw invalid('no token configured: set --token, REDSLOT_DASHBOARD_TOKEN or tokens: in the config file');
  }
  const logLevel = String(merged['logLevel'] ?? '');
  return {
    coordinator,
    listen,
    advertise: advertise === '' ? undefined : advertise,
    tokens,
    openReads: parseBool(merged['openReads'], 'openReads'),
    openMetrics: parseBool(merged['openMetrics'], 'openMetrics'),
    leaseTtlMs: Math.max(1000, parseDuration(merged['leaseTtl'], 'leaseTtl')),
    barrierTimeoutMs: parseDuration(merged['barrierTimeout'], 'barrierTimeout'),
    statsIntervalMs: Math.max(100, parseDuration(merged['statsInterval'], 'statsInterval')),
    statsHistory: parseIntInRange(merged['statsHistory'], 'statsHistory', 1, 100_000),
    dialTimeoutMs: parseDuration(merged['dialTimeout'], 'dialTimeout'),
    redisPassword: String(merged['redisPassword'] ?? '') || undefined,
    redisUsername: String(merged['redisUsername'] ?? '') || undefined,
    assignScanMaxKeys: parseIntInRange(merged['assignScanMaxKeys'], 'assignScanMaxKeys', 0, 1_000_000_000),
    auditRetain: parseIntInRange(merged['auditRetain'], 'auditRetain', 10, 10_000_000),
    failover: parseFailoverConfig(merged['failover']),
    etcd: parseEtcdSecurity(merged['etcd'], 'etcd'),
    tls: parseTlsListener(merged['tls'], 'tls'),
    redisTls: parseTlsClient(merged['redisTls'], 'redisTls'),
    proxyAdminTls: parseTlsClient(merged['proxyAdminTls'], 'proxyAdminTls'),
    logLevel: logLevel === '' ? undefined : parseEnum(logLevel, 'logLevel', ['debug', 'info', 'warn', 'error', 'silent'] as const),
  };
}

/** Reads file + env + flags (flags already parsed into a raw object) into a validated config. */
export function loadDashboardConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): DashboardConfig {
  const file = typeof flags['config'] === 'string' ? readConfigFile(flags['config']) : {};
  const fromEnv = envOverrides(DEFAULTS as Record<string, unknown>, env, 'REDSLOT_DASHBOARD_');
  const rest = { ...flags };
  delete rest['config'];
  return parseDashboardConfig(deepMerge({}, file, fromEnv, rest));
}

/** A random token for local clusters (`redslot up`). */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
