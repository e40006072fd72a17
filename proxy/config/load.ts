/**
 * Loading the proxy's config. Layers (later wins): defaults < YAML/JSON file (--config) < REDSLOT_*
 * environment < command-line flags; then one validation against the schema (./schema.ts).
 */
import { deepMerge, envOverrides, invalidConfig, readConfigFile } from '../../shared/config.js';
import { decodeConfig, rawDefaults } from '../../shared/config/validate.js';
import { redactEtcdSecurity } from '../../shared/coordinator/etcd-security.js';
import { ProxyKnobs, type ProxyConfig } from './schema.js';


/** Raw defaults, in the file's vocabulary (strings where the file would hold strings). */
export const PROXY_DEFAULTS: Record<string, unknown> = rawDefaults(ProxyKnobs);

/**
 * `fencing: off` promised that the control plane waits for a proxy cut off from the coordinator, but the
 * barrier can only count proxies with a live lease: an `off` proxy past its lease kept routing on a stale
 * table while slots moved (lost writes). Honouring it would block every migration on one unreachable
 * proxy, so the mode is gone; an old config naming it fails loudly instead of silently changing meaning.
 */
function refuseFencingOff(raw: Record<string, unknown>): void {
  if (raw.fencing === 'off') {
    throw invalidConfig(
      "fencing: 'off' is no longer supported (a proxy that keeps serving past its lease can route writes to a slot's old group); remove the key or set fencing: strict",
    );
  }
}

/** Validates a merged raw object into a ProxyConfig. */
export function validateProxyConfig(raw: Record<string, unknown>): ProxyConfig {
  refuseFencingOff(raw);
  return decodeConfig(ProxyKnobs, raw);
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
    if (!a.startsWith('--')) throw invalidConfig(`unexpected argument ${JSON.stringify(a)}`);
    let key = a.slice(2);
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      value = argv[++i];
      if (value === undefined) throw invalidConfig(`flag --${key} needs a value`);
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
  const fromEnv = envOverrides(PROXY_DEFAULTS, opts.env ?? process.env);
  const merged = deepMerge(PROXY_DEFAULTS, fromFile, fromEnv, opts.overrides);
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
