/**
 * `redslot etcd-auth --coordinator etcd://host:port/cluster [--ca F --cert F --key F]`: turns on etcd's
 * authentication with redslot's least-privilege roles (shared/coordinator/etcd-security.ts), idempotently, so
 * a Kubernetes Job can run it on every deploy: the root user, the roles `redslot-proxy` and
 * `redslot-dashboard` with their grants, the users `redslot-proxy` and `redslot-dashboard` (passwords set to
 * the given ones), then `auth enable`. Passwords come from the environment or files, never argv:
 * REDSLOT_ETCD_ROOT_PASSWORD, REDSLOT_ETCD_PROXY_PASSWORD, REDSLOT_ETCD_DASHBOARD_PASSWORD (or *_FILE).
 * Once auth is on, it reconnects as root.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Etcd3, Range } from 'etcd3';
import { parseCoordinatorUrl } from '../../shared/coordinator/index.js';
import { ETCD_ROLE_NAMES, etcdConnectionOptions, parseEtcdSecurity, redslotEtcdRoles, type EtcdSecurity } from '../../shared/coordinator/etcd-security.js';

export interface EtcdAuthPlan {
  cluster: string;
  rootPassword: string;
  proxyPassword: string;
  dashboardPassword: string;
}

/** Roles, users and `auth enable` through `client`, which is either unauthenticated (auth still off) or root. */
export async function applyEtcdAuth(client: Etcd3, plan: EtcdAuthPlan): Promise<void> {
  const users = new Set((await client.getUsers()).map((u) => u.name));
  const roles = new Set((await client.getRoles()).map((r) => r.name));
  const user = async (name: string, password: string, role: string) => {
    if (users.has(name)) await client.user(name).setPassword(password);
    else await client.user(name).create(password);
    await client.user(name).addRole(role);
  };
  const grants = redslotEtcdRoles(plan.cluster);
  for (const kind of ['proxy', 'dashboard'] as const) {
    const name = ETCD_ROLE_NAMES[kind];
    if (!roles.has(name)) await client.role(name).create();
    for (const [permission, prefix] of grants[kind]) await client.role(name).grant({ permission, range: Range.prefix(prefix) });
  }
  await user(ETCD_ROLE_NAMES.proxy, plan.proxyPassword, ETCD_ROLE_NAMES.proxy);
  await user(ETCD_ROLE_NAMES.dashboard, plan.dashboardPassword, ETCD_ROLE_NAMES.dashboard);
  await user('root', plan.rootPassword, 'root');
  await client.auth.authEnable();
}

/** Connects unauthenticated first; if etcd already requires a user, again as root. Runs applyEtcdAuth. */
export async function setupEtcdAuth(hosts: string[], security: EtcdSecurity, plan: EtcdAuthPlan): Promise<'enabled' | 'updated'> {
  const anonymous = new Etcd3({ ...etcdConnectionOptions(hosts, { ...security, user: '', password: '' }), dialTimeout: 5000 });
  let authOn = false;
  try {
    await anonymous.getUsers();
  } catch (err) {
    if (!/user name is empty|user name not found|permission denied|authentication|not authorized/i.test((err as Error).message)) throw err;
    authOn = true;
  } finally {
    anonymous.close();
  }
  const client = new Etcd3({ ...etcdConnectionOptions(hosts, authOn ? { ...security, user: 'root', password: plan.rootPassword } : security), dialTimeout: 5000 });
  try {
    await applyEtcdAuth(client, plan);
  } finally {
    client.close();
  }
  return authOn ? 'updated' : 'enabled';
}

function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string {
  const file = env[`${name}_FILE`];
  const v = file ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : (env[name] ?? '');
  if (v.length < 16) throw new Error(`${name} (or ${name}_FILE): at least 16 characters required`);
  return v;
}

const USAGE = `usage: redslot etcd-auth --coordinator etcd://host:port[,host:port]/cluster [--ca FILE] [--cert FILE --key FILE]

Creates redslot's etcd roles and users and enables authentication (idempotent).
Passwords from the environment: REDSLOT_ETCD_ROOT_PASSWORD, REDSLOT_ETCD_PROXY_PASSWORD,
REDSLOT_ETCD_DASHBOARD_PASSWORD (or the same names with _FILE naming a file).
`;

export async function runEtcdAuthCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { coordinator?: string; ca?: string; cert?: string; key?: string; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { coordinator: { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean' } } }).values;
  } catch (err) {
    process.stderr.write(`redslot etcd-auth: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help || values.coordinator === undefined) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  try {
    const parsed = parseCoordinatorUrl(values.coordinator);
    if (parsed.kind !== 'etcd') throw new Error('--coordinator must be an etcd:// URL');
    const security = parseEtcdSecurity({ tls: { ca: values.ca ?? '', cert: values.cert ?? '', key: values.key ?? '' } }, 'etcd');
    const plan: EtcdAuthPlan = {
      cluster: parsed.cluster,
      rootPassword: secretFromEnv(env, 'REDSLOT_ETCD_ROOT_PASSWORD'),
      proxyPassword: secretFromEnv(env, 'REDSLOT_ETCD_PROXY_PASSWORD'),
      dashboardPassword: secretFromEnv(env, 'REDSLOT_ETCD_DASHBOARD_PASSWORD'),
    };
    const outcome = await setupEtcdAuth(parsed.hosts, security, plan);
    process.stdout.write(`etcd authentication ${outcome}: roles ${ETCD_ROLE_NAMES.proxy}, ${ETCD_ROLE_NAMES.dashboard} for /redslot/${parsed.cluster}/\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`redslot etcd-auth: ${(err as Error).message}\n`);
    return 1;
  }
}
