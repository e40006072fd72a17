/**
 * The Codis model reader (dashboard/imports/codis-model.ts) on the captured Codis 3.2 responses, its
 * refusals, and Redis version detection (shared/redis-version.ts). No Redis 3.2 binary exists on this
 * machine, so what a 3.2 backend may and may not do is unit-tested here from the version string alone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodisModelError, planCodisImport } from '../../dashboard/imports/codis-model.js';
import { assertMigratable } from '../../dashboard/migration/version-check.js';
import { capabilitiesOf, parseRedisVersion, refusalsFor, versionFromInfo } from '../../shared/redis-version.js';

const FIXTURES = path.resolve(process.cwd(), '../shared/reference/codis-fixtures');
const load = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

describe('Codis model -> import plan', () => {
  it('reads GET /topom/stats: groups with master first, ranges, offline slots, proxies', () => {
    const p = planCodisImport(load('topom-stats.json'));
    expect(p.refusals).toEqual([]);
    expect(p.groups.map((g) => [g.id, g.slots, g.servers.map((s) => `${s.addr}/${s.role}/${s.redisVersion}`)])).toEqual([
      [1, 512, ['127.0.0.1:7131/master/7.0.15', '127.0.0.1:7133/replica/7.0.15']],
      [2, 488, ['127.0.0.1:7132/master/7.0.15', '127.0.0.1:7134/replica/7.0.15']],
    ]);
    expect(p.ranges).toEqual([
      { from: 0, to: 511, group: 1 },
      { from: 512, to: 999, group: 2 },
      { from: 1000, to: 1023, group: 0 },
    ]);
    expect(p.offlineSlots).toBe(24);
    expect(p.codisProxies).toEqual(['127.0.0.1:7120']);
    expect(p.warnings.join('\n')).toContain('24 slots are offline in Codis (group 0) and stay offline');
  });

  it('reads GET /topom (stats wrapped with version, config and model) to the same plan', () => {
    const a = planCodisImport(load('topom-stats.json'));
    const b = planCodisImport(load('topom.json'));
    expect(b.slots).toEqual(a.slots);
    expect(b.groups).toEqual(a.groups);
    expect(b.product).toBe('fixture');
    expect(b.codisVersion).toContain('3.2.2');
  });

  it('refuses while a slot migrates, and while a group promotes', () => {
    expect(planCodisImport(load('topom-stats-migrating.json')).refusals).toEqual([expect.stringContaining('slot 700 (migrating -> group 1)')]);
    const promoting = load('topom-stats.json');
    ((promoting['group'] as { models: Array<Record<string, unknown>> }).models[1]!)['promoting'] = { index: 1, state: 'prepared' };
    expect(planCodisImport(promoting).refusals).toEqual([expect.stringContaining('Codis group 2 is promoting a new master (prepared)')]);
  });

  it('rejects what is not a Codis model with a reason', () => {
    expect(() => planCodisImport({ hello: 1 })).toThrow(CodisModelError);
    expect(() => planCodisImport({ slots: [] })).toThrow(/expected 1024 slots/);
    const bad = load('topom-stats.json');
    (bad['slots'] as Array<Record<string, unknown>>)[5]!['group_id'] = 77;
    expect(() => planCodisImport(bad)).toThrow(/slot 5 belongs to group 77, which the model does not list/);
  });

  it('warns (does not refuse) about servers too old for migration, RESP3 or REPLICAOF', () => {
    const old = load('topom-stats.json');
    const stats = (old['group'] as { stats: Record<string, { stats: Record<string, string> }> }).stats;
    stats['127.0.0.1:7131']!.stats['redis_version'] = '3.2.11';
    const p = planCodisImport(old);
    expect(p.refusals).toEqual([]);
    const w = p.warnings.find((x) => x.startsWith('127.0.0.1:7131'))!;
    expect(w).toContain('MEMORY USAGE (Redis >= 4.0)');
    expect(w).toContain('RESP3 (HELLO 3) needs Redis >= 6.0');
    expect(w).toContain('REPLICAOF');
  });
});

describe('Redis version detection (no Redis 3.2 binary here: from INFO text)', () => {
  it('parses redis_version from INFO and compares versions', () => {
    expect(versionFromInfo('# Server\r\nredis_version:3.2.11\r\nredis_git_sha1:0\r\n')).toMatchObject({ major: 3, minor: 2, patch: 11 });
    expect(versionFromInfo('# Server\r\nredis_mode:standalone\r\n')).toBeNull();
    expect(parseRedisVersion('6.2.6-rc1')).toMatchObject({ major: 6, minor: 2, patch: 6 });
    expect(parseRedisVersion('garbage')).toBeNull();
  });

  it('a codis-server 3.2.11 gets no RESP3, no ACL user, no migration; 7.x gets everything', () => {
    const c = capabilitiesOf(parseRedisVersion('3.2.11')!);
    expect(c.resp3).toBe('RESP3 (HELLO 3) needs Redis >= 6.0; the server runs 3.2.11');
    expect(c.aclUser).toContain('ACL users (AUTH user password, MIGRATE ... AUTH2) need Redis >= 6.0');
    expect(c.migration).toContain('MEMORY USAGE (Redis >= 4.0)');
    expect(c.replicaOf).toContain('REPLICAOF');
    expect(capabilitiesOf(parseRedisVersion('3.0.5')!).migration).toContain('MIGRATE ... KEYS (Redis >= 3.0.6)');
    expect(capabilitiesOf(parseRedisVersion('7.0.15')!)).toEqual({ resp3: null, aclUser: null, migration: null, replicaOf: null });
    expect(refusalsFor(parseRedisVersion('5.0.14')!, { resp3: true, migration: true, replicaOf: true })).toEqual(['RESP3 (HELLO 3) needs Redis >= 6.0; the server runs 5.0.14']);
  });
});

describe('migration refused for masters too old to migrate (versions stubbed: no old Redis binary here)', () => {
  const masters: Record<number, string> = { 1: '10.0.0.1:6379', 2: '10.0.0.2:6379', 3: '10.0.0.3:6379' };
  const versions: Record<string, string> = { '10.0.0.1:6379': '3.2.11', '10.0.0.2:6379': '7.0.15', '10.0.0.3:6379': '5.0.14' };
  const deps = (aclUser: boolean) => ({ masterOf: (g: number) => masters[g], versionOf: async (a: string) => versions[a], aclUser });

  it('names the codis-server 3.2 master and why; allows Redis >= 4 without ACL users', async () => {
    await expect(assertMigratable([{ slot: 1, from: 1, to: 2 }], deps(false))).rejects.toThrow(/group 1 master 10\.0\.0\.1:6379: migration sizes keys with MEMORY USAGE \(Redis >= 4\.0\); the server runs 3\.2\.11/);
    await expect(assertMigratable([{ slot: 1, from: 3, to: 2 }, { slot: 2, from: 0, to: 3 }], deps(false))).resolves.toBeUndefined();
    await expect(assertMigratable([{ slot: 1, from: 3, to: 2 }], deps(true))).rejects.toThrow(/group 3 master 10\.0\.0\.3:6379: ACL users/);
  });
});
