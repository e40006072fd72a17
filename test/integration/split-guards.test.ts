/**
 * The split's guard rails and its abort before the switch, on a real cluster in this process (memory://
 * coordinator, real proxies and redis-servers, a dashboard over HTTP). Group 1 owns every slot; groups 2 and 3
 * are new and empty. The split knob `lagBytes: -1` (test only) means "never caught up": a started split stays
 * in `syncing` until it is aborted.
 */
import { describe, expect, it } from 'vitest';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { setLogLevel } from '../../shared/log.js';
import { expectSplitUndone, groupRecord, splitOf, useSplitCluster, waitSplitStep } from '../support/split.js';
import { until } from '../support/until.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 5000;
const f = useSplitCluster({ spareGroups: 2, barrierTimeoutMs: 3000, split: { lagBytes: -1, retryMs: 200 }, keys: KEYS, value: () => 'v'.repeat(100) });

describe('split guard rails and abort', () => {
  it('refuses bad requests, a non-empty or too small new master, and groups that migrate; warns on a small backlog', async () => {
    const { api, client, direct } = f;
    const preview = (body: object) => api.request<{ plan: { warnings: string[]; slotCount: number } }>('POST', '/api/v1/splits', body);
    await expect(preview({ source: 1, target: 1 })).rejects.toThrow(/same group/);
    await expect(preview({ source: 1, target: 9 })).rejects.toThrow(/group 9 does not exist/);
    await expect(preview({ source: 2, target: 3 })).rejects.toThrow(/owns no slots/);
    expect((await preview({ source: 1, target: 2, from: 100, to: 199 })).plan.slotCount).toBe(100);

    // The new master must be empty ...
    await direct[2]!.set('stray', '1');
    await expect(preview({ source: 1, target: 3 })).rejects.toThrow(/must be empty/);
    await direct[2]!.del('stray');
    // ... and have room for the whole source dataset.
    await direct[2]!.config('SET', 'maxmemory', String(1024 * 1024));
    await expect(preview({ source: 1, target: 3 })).rejects.toThrow(/maxmemory 1048576 bytes, less than the source's used_memory/);
    await direct[2]!.config('SET', 'maxmemory', '0');

    // A backlog too small for the writes expected during the sync: a warning, not a refusal.
    await direct[0]!.config('SET', 'repl-backlog-size', '16384');
    const stop = Date.now() + 2500;
    while (Date.now() < stop) await client.set(`w${Date.now() % 50}`, 'x'.repeat(2000));
    const warned = await preview({ source: 1, target: 3 });
    expect(warned.plan.warnings.join('\n')).toMatch(/repl-backlog-size .* is 16384 bytes/);
    await direct[0]!.config('SET', 'repl-backlog-size', String(1024 * 1024));
    await client.del(...Array.from({ length: 50 }, (_, i) => `w${i}`));

    // No split while the group's slots migrate.
    await api.request('POST', '/api/v1/migrations/pause', {});
    const job = await api.request<{ job: { id: string } }>('POST', '/api/v1/migrations', { mode: 'range', from: 0, to: 9, group: 3 });
    await expect(preview({ source: 1, target: 2 })).rejects.toThrow(/slot 0 is migrating/);
    await api.request('POST', `/api/v1/migrations/${job.job.id}/abort`, {});
    await api.request('POST', '/api/v1/migrations/resume', {});
    await until('the migration cancelled', async () => (await preview({ source: 1, target: 2 })).plan.slotCount === 512);
  });

  it('while syncing: the new group is hidden from cluster-wide commands, a second split and migrations are refused; abort detaches and flushes it', async () => {
    const { c, api, client, direct } = f;
    const started = await api.request<{ split: SplitView }>('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    expect(started.split.step).toBe('syncing');
    // The new master receives the whole dataset by replication ...
    await until('group 2 replicated the source', async () => (await direct[1]!.dbsize()) === KEYS);
    expect((await direct[1]!.call('ROLE') as unknown[])[0]).toBe('slave');
    // ... and the proxy does not count or list its copies.
    expect(await client.dbsize()).toBe(KEYS);
    expect((await client.keys('*')).length).toBe(KEYS);
    // The progress is polled every pollMs: the lag reads -1 until a poll sees the link up after the full sync.
    await until('the split reports its replication lag', async () => (await splitOf(api, 1)).progress!.lagBytes >= 0);
    const view = await splitOf(api, 1);
    expect(view.running).toBe(true);
    expect(view.progress!.lagBytes).toBeGreaterThanOrEqual(0);
    expect((await groupRecord(c, 1)).split).toMatchObject({ role: 'source', peer: 2, state: 'syncing' });
    expect((await groupRecord(c, 2)).split).toMatchObject({ role: 'target', peer: 1, state: 'syncing' });

    // One split per source; the groups cannot migrate meanwhile.
    await expect(api.request('POST', '/api/v1/splits', { source: 1, target: 3 })).rejects.toThrow(/already in split/);
    await expect(api.request('POST', '/api/v1/migrations', { mode: 'range', from: 0, to: 9, group: 3 })).rejects.toThrow(/group 1 is in split/);

    const aborted = await api.request<SplitView>('POST', '/api/v1/splits/1/abort', {});
    expect(aborted.step).toBe('aborting');
    await waitSplitStep(api, 1, ['aborted']);
    expect((await direct[1]!.call('ROLE') as unknown[])[0]).toBe('master');
    await until('group 2 flushed', async () => (await direct[1]!.dbsize()) === 0);
    // Nothing else changed: no marker, every slot with group 1, every key there.
    await expectSplitUndone(c, [1, 2]);
    expect(await direct[0]!.dbsize()).toBe(KEYS);
    expect(await client.dbsize()).toBe(KEYS);
    // Aborting again is refused; the group can be split again.
    await expect(api.request('POST', '/api/v1/splits/1/abort', {})).rejects.toMatchObject({ code: 'REDSLOT_ERR_SPLIT_ABORT_REFUSED' });
    expect((await api.request<{ plan: { slotCount: number } }>('POST', '/api/v1/splits', { source: 1, target: 2 })).plan.slotCount).toBe(512);
  });
});
