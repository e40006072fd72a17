/**
 * How a coordinator client reaches etcd: `https://` with a CA (and a client certificate when etcd requires
 * one, --client-cert-auth), and a user / password when etcd has authentication enabled. The password is given
 * in config or a file, never in the coordinator URL. redslot's least-privilege roles (docs: README "etcd
 * authentication", `redslot etcd-auth` in deploy/etcd/auth-setup.ts): proxies read the cluster and write only proxies/, acks/;
 * dashboards read and write the cluster's whole prefix.
 */
import { rootCertificates } from 'node:tls';
import type { IOptions } from 'etcd3';
import { CommonErrors, RedslotError } from '../errors.js';
import { secretValue } from '../secrets.js';
import { clientOptions, parseTlsClient } from '../tls/config.js';

export interface EtcdSecurity {
  /** PEM contents (already read); null = plain http. */
  tls: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string } | null;
  /** etcd user ('' = no authentication). */
  user: string;
  password: string;
}

const buf = (v: Buffer | string | undefined): Buffer | undefined => (v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));

export function etcdConnectionOptions(hosts: readonly string[], s: EtcdSecurity | undefined): Pick<IOptions, 'hosts' | 'credentials' | 'auth'> {
  const secure = s?.tls ?? null;
  return {
    hosts: hosts.map((h) => `${secure ? 'https' : 'http'}://${h}`),
    ...(secure
      ? {
          credentials: {
            // No CA given: the system's trusted roots, as Node's tls would use.
            rootCertificate: buf(secure.ca) ?? Buffer.from(rootCertificates.join('\n')),
            ...(secure.cert !== undefined ? { certChain: buf(secure.cert)!, privateKey: buf(secure.key)! } : {}),
          },
        }
      : {}),
    ...(s !== undefined && s.user !== '' ? { auth: { username: s.user, password: s.password } } : {}),
  };
}

/**
 * The etcd section of a proxy's or dashboard's config: `{ user, password | passwordFile, tls: { enabled,
 * ca, cert, key } }`; files are read now (a missing one is a config error at start).
 */
export function parseEtcdSecurity(raw: unknown, name: string): EtcdSecurity {
  const o = (raw ?? {}) as Record<string, unknown>;
  const t = parseTlsClient(o.tls, `${name}.tls`);
  const opts = t === null ? null : clientOptions(t, `${name}.tls`);
  const user = typeof o.user === 'string' ? o.user : '';
  const password = secretValue(o, 'password', `${name}.password`);
  if (user !== '' && password === '') throw new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason: `${name}.user needs ${name}.password (or ${name}.passwordFile)` });
  return {
    tls: opts === null ? null : { ca: opts.ca as Buffer | undefined, cert: opts.cert as Buffer | undefined, key: opts.key as Buffer | undefined },
    user,
    password,
  };
}

/** The etcd config as shown by an API: the password hidden. */
export function redactEtcdSecurity(s: EtcdSecurity): Record<string, unknown> {
  return { user: s.user, password: s.password === '' ? '' : '***', tls: s.tls !== null };
}

/** redslot's two least-privilege roles for one cluster, as [role, permission, key prefix] grants. */
export function redslotEtcdRoles(cluster: string): { proxy: Array<['Read' | 'Readwrite', string]>; dashboard: Array<['Read' | 'Readwrite', string]> } {
  const base = `/redslot/${cluster}/`;
  return {
    // Read the cluster; write only its own registration and acknowledgements.
    proxy: [['Read', base], ['Readwrite', `${base}proxies/`], ['Readwrite', `${base}acks/`]],
    dashboard: [['Readwrite', base]],
  };
}

export const ETCD_ROLE_NAMES = { proxy: 'redslot-proxy', dashboard: 'redslot-dashboard' } as const;

/**
 * etcdctl arguments that create redslot's least-privilege roles and users for one cluster: `redslot-proxy`
 * may read the cluster's keys and write only its registration and acknowledgements; `redslot-dashboard`
 * may write everything of the cluster. Run them with a root user before `etcdctl auth enable` (or let
 * `redslot etcd-auth` do all of it: deploy/etcd/auth-setup.ts).
 */
export function etcdRoleCommands(cluster: string, users: { proxy: string; dashboard: string }): string[][] {
  const roles = redslotEtcdRoles(cluster);
  const out: string[][] = [];
  for (const kind of ['proxy', 'dashboard'] as const) {
    out.push(['role', 'add', ETCD_ROLE_NAMES[kind]]);
    for (const [perm, prefix] of roles[kind]) out.push(['role', 'grant-permission', ETCD_ROLE_NAMES[kind], perm.toLowerCase(), prefix, '--prefix']);
  }
  out.push(['user', 'grant-role', users.proxy, ETCD_ROLE_NAMES.proxy], ['user', 'grant-role', users.dashboard, ETCD_ROLE_NAMES.dashboard]);
  return out;
}
