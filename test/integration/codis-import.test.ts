/**
 * Importing a Codis cluster: a FAKE CODIS DASHBOARD (a small HTTP server in this test, serving the responses
 * captured from a real Codis 3.2 dashboard in ../shared/reference/codis-fixtures/, with the captured
 * server addresses 127.0.0.1:7131..7134 rewritten to this test's redis-servers) — there is no Codis binary
 * here. Everything on the redslot side is real: four redis-servers (two masters, each with a replica), a
 * dashboard on the embedded memory coordinator, a proxy following it, and the `redslot` CLI.
 *
 * Checks: the preview (groups, servers, ranges, offline slots, what will be created), the refusal while Codis
 * migrates a slot (nothing written, audited as refused), the written topology, and GETs through the proxy
 * finding every key that Codis's own proxy placed (keys-placed-by-codis-proxy.tsv), written here straight
 * to the masters the way Codis's slot function placed them.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { DashboardClient } from '../../dashboard/cli/api-client.js';
import { dropMemoryStore, openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { uniqueCluster, waitFor } from '../unit/dashboard-harness.js';

setLogLevel('silent');

const FIXTURES = path.resolve(process.cwd(), '../shared/reference/codis-fixtures');
const TOKEN = 'codis-import-token-123456';

let m1: RedisServerHandle, m2: RedisServerHandle, r1: RedisServerHandle, r2: RedisServerHandle;
let opened: OpenedCoordinator;
let dashboard: RunningDashboard;
let proxy: ProxyHandle;
let fakeCodis: http.Server;
let codisUrl = '';
/** Which captured response /topom/stats serves. */
let statsFixture = 'topom-stats.json';

function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8')
    .replaceAll('127.0.0.1:7131', m1.addr)
    .replaceAll('127.0.0.1:7132', m2.addr)
    .replaceAll('127.0.0.1:7133', r1.addr)
    .replaceAll('127.0.0.1:7134', r2.addr);
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runAdminCommand([...argv, '--dashboard', dashboard.url], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { REDSLOT_TOKEN: TOKEN } });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  [m1, m2] = await Promise.all([startRedis(), startRedis()]);
  [r1, r2] = await Promise.all([startRedis(['--replicaof', '127.0.0.1', String(m1.port)]), startRedis(['--replicaof', '127.0.0.1', String(m2.port)])]);
  fakeCodis = http.createServer((req, res) => {
    // GET /topom wraps the same stats (the captured topom.json, its stats swapped for the fixture in use).
    const topom = () => JSON.stringify({ ...(JSON.parse(fixture('topom.json')) as object), stats: JSON.parse(fixture(statsFixture)) as unknown });
    const body = req.url === '/topom/stats' ? fixture(statsFixture) : req.url === '/topom' ? topom() : null;
    res.writeHead(body === null ? 404 : 200, { 'content-type': 'application/json' });
    res.end(body ?? '{"error":"not found"}');
  });
  await new Promise<void>((resolve) => fakeCodis.listen(0, '127.0.0.1', resolve));
  codisUrl = `http://127.0.0.1:${(fakeCodis.address() as { port: number }).port}`;
  opened = await openCoordinator(`memory://${uniqueCluster('codis')}`);
  dashboard = await startDashboard({ coordinator: opened, listen: '127.0.0.1:0', token: TOKEN, options: { stats: false } });
  await waitFor(() => dashboard.app.dashboard.election.isLeader(), 5000, 'leader');
  const config = loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: `memory://${opened.cluster}`, leaseTtl: '5s' } });
  proxy = await startProxy({ config, defaultMetrics: false });
});

afterAll(async () => {
  try {
    await proxy?.close({ deadlineMs: 1000 });
    await dashboard?.close();
    await opened?.coordinator.close();
    if (opened) dropMemoryStore(opened.cluster);
    await new Promise((resolve) => fakeCodis?.close(resolve));
  } finally {
    await Promise.all([m1, m2, r1, r2].map((r) => r?.stop()));
  }
}, 30_000);

describe('redslot import codis (fake Codis dashboard serving captured fixtures)', () => {
  it('refuses while Codis has a slot migrating: preview says why, --confirm writes nothing and is audited', async () => {
    statsFixture = 'topom-stats-migrating.json';
    try {
      const preview = await cli('import', 'codis', '--from', codisUrl);
      expect(preview.code).toBe(1);
      expect(preview.stdout).toContain('refused: Codis has 1 slot action(s) in progress: slot 700 (migrating -> group 1)');
      expect(preview.stdout).toContain('nothing written');
      const confirm = await cli('import', 'codis', '--from', codisUrl, '--confirm');
      expect(confirm.code).toBe(1);
      expect(confirm.stderr).toContain('REDSLOT_ERR_IMPORT_REFUSED');
      expect(confirm.stderr).toContain('slot 700 (migrating -> group 1)');
    } finally {
      statsFixture = 'topom-stats.json';
    }
    const client = new DashboardClient({ baseUrl: dashboard.url, token: TOKEN });
    const topo = await client.topology();
    expect(topo.groups).toEqual([]);
    expect(topo.slots.every((s) => s.group === 0)).toBe(true);
    const audit = await client.audit(5);
    expect(audit.entries[0]).toMatchObject({ action: 'import.codis', result: 'refused' });
  });

  it('previews the Codis model: groups, servers, ranges, offline slots and what will be created', async () => {
    const human = await cli('import', 'codis', '--from', codisUrl);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('Codis product fixture');
    expect(human.stdout).toContain('2 group(s), 1000 slots served, 24 offline');
    expect(human.stdout).toContain(`${m1.addr} (master 7.0.15), ${r1.addr} (replica 7.0.15)`);
    expect(human.stdout).toContain('offline (group 0): 1000-1023');
    expect(human.stdout).toContain('redslot will create 2 group(s) and assign 1000 slot(s): 0-511->g1, 512-999->g2');
    expect(human.stdout).toContain('preview only');

    const json = JSON.parse((await cli('import', 'codis', '--from', codisUrl, '--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      applied: false,
      product: 'fixture',
      createGroups: [1, 2],
      assignSlots: 1000,
      offlineSlots: 24,
      refusals: [],
      ranges: [
        { from: 0, to: 511, group: 1 },
        { from: 512, to: 999, group: 2 },
        { from: 1000, to: 1023, group: 0 },
      ],
      groups: [
        { id: 1, slots: 512, servers: [{ addr: m1.addr, role: 'master', redisVersion: '7.0.15' }, { addr: r1.addr, role: 'replica', redisVersion: '7.0.15' }] },
        { id: 2, slots: 488, servers: [{ addr: m2.addr, role: 'master', redisVersion: '7.0.15' }, { addr: r2.addr, role: 'replica', redisVersion: '7.0.15' }] },
      ],
    });
    // GET /topom (the wrapped form) read from a file gives the same plan, with Codis's build.
    const file = path.join(process.env['TMPDIR'] ?? '/tmp', `codis-topom-${process.pid}.json`);
    (await import('node:fs')).writeFileSync(file, fixture('topom.json'));
    const fromFile = JSON.parse((await cli('import', 'codis', '--from-file', file, '--json')).stdout) as Record<string, unknown>;
    expect(fromFile).toMatchObject({ createGroups: [1, 2], assignSlots: 1000, offlineSlots: 24, codisVersion: expect.stringContaining('3.2.2') });
  });

  it('imports with --confirm; the proxy then finds every key Codis placed, written straight to the masters', async () => {
    const res = await cli('import', 'codis', '--from', codisUrl, '--confirm');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`checked ${m1.addr} (group 1): master, redis 7.0.15`);
    const client = new DashboardClient({ baseUrl: dashboard.url, token: TOKEN });
    const topo = await client.topology();
    expect(topo.groups.map((g) => ({ id: g.id, servers: g.servers }))).toEqual([
      { id: 1, servers: [{ addr: m1.addr, role: 'master' }, { addr: r1.addr, role: 'replica' }] },
      { id: 2, servers: [{ addr: m2.addr, role: 'master' }, { addr: r2.addr, role: 'replica' }] },
    ]);
    for (const s of topo.slots) expect(s.group, `slot ${s.id}`).toBe(s.id < 512 ? 1 : s.id < 1000 ? 2 : 0);
    const audit = await client.audit(1);
    expect(audit.entries[0]).toMatchObject({ action: 'import.codis', result: 'ok' });

    // Keys as Codis's proxy placed them: write each straight to that master.
    const rows = readFileSync(path.join(FIXTURES, 'keys-placed-by-codis-proxy.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t') as [string, string]);
    expect(rows.length).toBeGreaterThan(200);
    const direct = { '7131': new Redis({ port: m1.port, lazyConnect: true }), '7132': new Redis({ port: m2.port, lazyConnect: true }) };
    const viaProxy = new Redis({ port: proxy.port, maxRetriesPerRequest: 0, lazyConnect: true });
    try {
      for (const [key, port] of rows) {
        // Codis's slot function is redslot's: the master Codis chose owns the key's slot here too.
        expect(slotOf(Buffer.from(key)) < 512 ? '7131' : '7132', key).toBe(port);
        await direct[port as '7131' | '7132'].set(key, `v:${key}`);
      }
      const routes = proxy.runtime.table.routes;
      await waitFor(() => routes[0]?.group === 1 && routes[999]?.group === 2, 5000, 'proxy applied the import');
      const got = await viaProxy.mget(...rows.map(([k]) => k));
      expect(got).toEqual(rows.map(([k]) => `v:${k}`));
      for (const [key] of rows.slice(0, 20)) expect(await viaProxy.get(key)).toBe(`v:${key}`);
      // Offline in Codis, offline here: a key of slot 1000-1023 is refused, not sent anywhere.
      let i = 0;
      while (slotOf(Buffer.from(`off${i}`)) < 1000) i++;
      await expect(viaProxy.get(`off${i}`)).rejects.toThrow(/CLUSTERDOWN/);
    } finally {
      direct['7131'].disconnect();
      direct['7132'].disconnect();
      viaProxy.disconnect();
    }

    // Running it again finds everything in place: nothing to create, nothing refused.
    const again = JSON.parse((await cli('import', 'codis', '--from', codisUrl, '--json')).stdout) as Record<string, unknown>;
    expect(again).toMatchObject({ createGroups: [], assignSlots: 0, refusals: [] });
  });
});
