/**
 * `redslot up`: a whole local cluster in one command. Spawns the redis-servers (and etcd with --etcd),
 * seeds an even slot table, and runs a proxy and a dashboard in this process on the embedded in-memory
 * coordinator (or on the etcd it started). Prints what runs where; Ctrl-C or SIGTERM stops every child.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openCoordinator } from '../../shared/coordinator/index.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import { seedTopology, evenRanges } from './seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { startEtcd, type EtcdHandle } from './spawn/etcd.js';
import { findBinary } from './spawn/binaries.js';
import { startRedis, type RedisServerHandle } from './spawn/redis.js';
import { startProxy } from '../../proxy/main.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startDashboard } from '../../dashboard/main.js';
import { generateToken } from '../../dashboard/config.js';
import { httpsConnectHints, makeLocalTls, tlsConnectHint } from './tls.js';

const HELP = `usage: redslot up [options]

Starts a local cluster: redis-server groups, one proxy, one dashboard. Ctrl-C stops everything.

  --groups N          Redis groups (default 2)
  --replicas N        replicas per group (default 0)
  --redis-port N      first redis-server port (default 16380; each server takes the next one; 0 = free ports)
  --port N            proxy RESP port (default 19000)
  --admin-port N      proxy admin HTTP port (default 11080)
  --dashboard-port N  dashboard HTTP port (default 18080)
  --etcd              run a real etcd (ports 12379/12380) instead of the in-memory coordinator
  --cluster NAME      cluster name (default local)
  --token TOKEN       dashboard token (default: REDSLOT_DASHBOARD_TOKEN or a random one, printed)
  --tls               TLS on the proxy port, HTTPS on the dashboard and admin ports, with a local CA made by
                      openssl (printed, with how to connect)
`;

export async function runUp(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      groups: { type: 'string', default: '2' },
      replicas: { type: 'string', default: '0' },
      'redis-port': { type: 'string', default: '16380' },
      port: { type: 'string', default: '19000' },
      'admin-port': { type: 'string', default: '11080' },
      'dashboard-port': { type: 'string', default: '18080' },
      etcd: { type: 'boolean', default: false },
      cluster: { type: 'string', default: 'local' },
      token: { type: 'string' },
      tls: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason: `--${name} must be an integer in [${min}, ${max}]` });
    }
    return n;
  };
  const groupCount = int('groups', values.groups, 1, 64);
  const replicas = int('replicas', values.replicas, 0, 4);
  const redisBase = int('redis-port', values['redis-port'], 0, 65000);
  const cluster = values.cluster;
  const token = values.token ?? process.env.REDSLOT_DASHBOARD_TOKEN ?? generateToken();

  findBinary('redis-server', 'sudo apt-get install -y redis-server   (or: bash deploy/local/install-deps.sh)');
  if (values.etcd) findBinary('etcd', 'sudo apt-get install -y etcd-server   (or: bash deploy/local/install-deps.sh)');

  const stoppers: Array<() => Promise<void>> = [];
  const children: Array<{ kill(): void }> = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  };
  // Last resort: if this process dies another way, never leave a redis-server or etcd behind.
  process.on('exit', () => children.forEach((c) => c.kill()));

  try {
    const work = mkdtempSync(path.join(os.tmpdir(), 'redslot-up-'));
    stoppers.push(async () => rmSync(work, { recursive: true, force: true }));

    let url = `memory://${cluster}`;
    if (values.etcd) {
      const etcd: EtcdHandle = await startEtcd({ clientPort: 12379, peerPort: 12380 });
      children.push({ kill: () => etcd.proc.child.kill('SIGKILL') });
      stoppers.push(() => etcd.stop());
      url = `etcd://${etcd.endpoint}/${cluster}`;
    }

    const groups: GroupRecord[] = [];
    const servers: Array<{ group: number; role: string; handle: RedisServerHandle }> = [];
    let port = redisBase;
    for (let g = 1; g <= groupCount; g++) {
      const master = await startRedis([], { port: redisBase === 0 ? undefined : port++ });
      children.push({ kill: () => master.proc.child.kill('SIGKILL') });
      stoppers.push(() => master.stop());
      servers.push({ group: g, role: 'master', handle: master });
      const group: GroupRecord = { id: g, weight: 1, servers: [{ addr: master.addr, role: 'master' }] };
      for (let r = 0; r < replicas; r++) {
        const replica = await startRedis(['--replicaof', master.host, String(master.port)], { port: redisBase === 0 ? undefined : port++ });
        children.push({ kill: () => replica.proc.child.kill('SIGKILL') });
        stoppers.push(() => replica.stop());
        servers.push({ group: g, role: 'replica', handle: replica });
        group.servers.push({ addr: replica.addr, role: 'replica' });
      }
      groups.push(group);
    }

    const { coordinator, paths } = await openCoordinator(url);
    stoppers.push(() => coordinator.close());
    const ids = groups.map((g) => g.id);
    const seeded = await seedTopology(coordinator, paths, cluster, groups, slotsFromRanges(evenRanges(ids)));

    const localTls = values.tls ? makeLocalTls(cluster) : null;
    const dashboard = await startDashboard({
      coordinator: url,
      listen: `127.0.0.1:${values['dashboard-port']}`,
      tokens: [{ name: 'local', token, role: 'operator' }],
      options: localTls ? { tls: localTls.https, proxyAdminTls: localTls.trustCa } : {},
    });
    stoppers.push(() => dashboard.close());

    const proxyConfig = loadProxyConfig({ overrides: {
      ...(localTls ? { tls: localTls.proxyTls, adminTls: { cert: localTls.https.cert, key: localTls.https.key } } : {}),
      cluster,
      coordinator: url,
      listen: `127.0.0.1:${values.port}`,
      admin: `127.0.0.1:${values['admin-port']}`,
    } });
    const proxy = await startProxy({ config: proxyConfig });
    stoppers.push(() => proxy.close({ deadlineMs: 2000 }));

    const cli = localTls ? tlsConnectHint(localTls, values.port) : `redis-cli -p ${values.port}`;
    const lines = [
      '',
      `redslot local cluster "${cluster}" is up${seeded.created ? '' : ' (existing topology kept)'}`,
      '',
      `  proxy       ${cli}            (RESP${localTls ? ' over TLS' : ''} ${proxy.addr})`,
      `  proxy admin ${localTls ? 'https' : 'http'}://127.0.0.1:${values['admin-port']}/metrics  /readyz  /api/v1/proxy`,
      `  dashboard   ${dashboard.url}   token: ${token}`,
      `  coordinator ${url}`,
      ...servers.map((s) => `  group ${s.group}     ${s.role.padEnd(8)} ${s.handle.addr} (pid ${s.handle.proc.pid})`),
      '',
      `  slots: ${evenRanges(ids).map(([a, b, g]) => `${a}-${b} -> group ${g}`).join(', ')}`,
      `  try:   ${cli} set hello world`,
      ...(localTls
        ? httpsConnectHints(localTls, dashboard.url, token)
        : [`         REDSLOT_TOKEN=${token} node dist/deploy/bin/redslot.js status --dashboard ${dashboard.url}`]),
      '',
      'Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } catch (err) {
    await stopAll();
    throw err;
  }

  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.stdout.write(`\n${sig}: stopping the local cluster...\n`);
      void stopAll().then(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  process.stdout.write('stopped.\n');
  return 0;
}
