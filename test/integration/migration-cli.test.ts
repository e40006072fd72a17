/**
 * The migration CLI commands against a real dashboard (migration plugin), real proxies and redis-servers:
 * output, exit codes, and that the commands really change the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMigrationCluster, TOKEN, type MigrationCluster } from '../../bench/migration/cluster.js';
import { runMigrationCommand, isMigrationCommand, parseGroupsFlag, bar } from '../../dashboard/cli/migrations.js';
import { setLogLevel } from '../../shared/log.js';

setLogLevel('silent');

let c: MigrationCluster;
let url: string;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runMigrationCommand([...argv, '--dashboard', url, '--token', TOKEN], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: {},
    isTTY: true,
  });
  return { code, out, err };
}

beforeAll(async () => {
  c = await startMigrationCluster({ groups: 2, spareGroups: 1, proxies: 1, coordinator: 'memory', plugin: { pollMs: 100 } });
  url = c.dashboards[0]!.url;
  await c.leader();
  const r = new Redis({ port: c.proxies[0]!.port, host: '127.0.0.1' });
  const p = r.pipeline();
  for (let i = 0; i < 5000; i++) p.set(`c${i}`, 'v');
  await p.exec();
  r.disconnect();
});

afterAll(async () => {
  await c?.stop();
});

describe('redslot migration CLI', () => {
  it('rebalance previews without --confirm, starts with it; migrations --watch draws live bars until done', async () => {
    const pre = await run('rebalance');
    expect(pre.code).toBe(0);
    expect(pre.out).toMatch(/341 slot\(s\) to move in 2 range\(s\)/);
    expect(pre.out).toMatch(/preview only/);
    expect((await run('migrations')).out).toMatch(/no migration job/);
    const started = await run('rebalance', '--confirm', '--groups', '1,2,3');
    expect(started.code).toBe(0);
    const job = /started job (\S+)/.exec(started.out)?.[1];
    expect(job).toBeDefined();
    const watch = await run('migrations', '--watch', '--interval', '0.1');
    expect(watch.code).toBe(0);
    expect(watch.out).toContain('\x1b[');
    expect(watch.out).toMatch(/\[#{24}\] 100%/);
    expect(watch.out).toContain(`job ${job} done`);
    const json = JSON.parse((await run('migrations', '--json')).out) as { jobs: Array<{ id: string; state: string }> };
    expect(json.jobs.find((j) => j.id === job)?.state).toBe('done');
  });

  it('migrate range / some, throttle, pause, resume, abort', async () => {
    expect((await run('migration', 'throttle', '--keys-per-sec', '500', '--bytes-per-sec', '1mb', '--parallel', '8')).out).toMatch(/keys\/s 500 · bytes\/s 1\.0 MiB · parallel 8/);
    expect((await run('migration', 'pause')).out).toMatch(/paused/);
    const r1 = await run('migrate', 'range', '0-9', '--to', '3');
    expect(r1.code).toBe(0);
    const job = /started job (\S+)/.exec(r1.out)![1]!;
    expect((await run('migrations')).out).toMatch(/PAUSED/);
    expect((await run('migrations')).out).toMatch(/10 pending/);
    const ab = await run('migration', 'abort', job);
    expect(ab.out).toMatch(/10 slot\(s\) cancelled, 0 going back/);
    expect((await run('migration', 'resume')).out).toMatch(/resumed/);
    await run('migration', 'throttle', '--keys-per-sec', '0', '--bytes-per-sec', '0', '--parallel', '512');
    const r2 = await run('migrate', 'some', '5', '--from', '1', '--to', '2');
    expect(r2.code).toBe(0);
    expect(r2.out).toMatch(/5 slot\(s\) to move/);
    const w = await run('migrations', '--watch', '--interval', '0.1');
    expect(w.out).toMatch(/done/);
  });

  it('usage errors exit 2, refusals 1, unreachable 3', async () => {
    expect((await run('migrate', 'range', '9-1', '--to', '2')).code).toBe(2);
    expect((await run('migrate', 'sideways')).code).toBe(2);
    expect((await run('migration', 'throttle')).code).toBe(2);
    const refused = await run('migrate', 'some', '2000', '--from', '1', '--to', '2');
    expect(refused.code).toBe(2); // N out of range is a usage error
    const busy = await run('migrate', 'some', '1024', '--from', '1', '--to', '2');
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/REDSLOT_ERR_MIGRATION_PLAN_INVALID/);
    let err = '';
    const code = await runMigrationCommand(['migrations', '--dashboard', 'http://127.0.0.1:1', '--token', TOKEN], { stdout: () => undefined, stderr: (s) => (err += s), env: {} });
    expect(code).toBe(3);
    expect(err).toMatch(/UNREACHABLE/);
    expect(isMigrationCommand('rebalance')).toBe(true);
    expect(isMigrationCommand('status')).toBe(false);
    expect(parseGroupsFlag('1,2:2.5,3:0')).toEqual([{ id: 1 }, { id: 2, weight: 2.5 }, { id: 3, weight: 0 }]);
    expect(bar(0.5, 10)).toBe('[#####-----]  50%');
  });
});
