/**
 * A proxy that starts after a split's switch but before its slot records are rewritten (step `switching`:
 * the source's marker is `switched` and lists the moving slots, the records still name the source) routes the
 * moved slots to the new group, as the proxies that applied the switch do; the new group (owning no slot record
 * yet) cannot be removed meanwhile. Real proxies and redis-servers, the
 * memory:// coordinator, a dashboard over HTTP; the split's test-only knob `stepDelayMs` pauses 2.5 s at the
 * start of every step so the new proxy starts inside `switching`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadProxyConfig } from '../../proxy/config/load.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { setLogLevel } from '../../shared/log.js';
import { groupRecord, keyIn, slotRecord, SPLIT_ENDED, useSplitCluster, waitSplitStep } from '../support/split.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const f = useSplitCluster({ barrierTimeoutMs: 3000, redisArgs: ['--repl-diskless-sync-delay', '0'], split: { stepDelayMs: 2500, retryMs: 200 } });
let late: ProxyHandle | undefined;

afterAll(async () => {
  await late?.close({ deadlineMs: 1000 });
});

describe('split: a proxy starting between the switch and the slot rewrite', () => {
  it('routes the moved slots to the new group from the `switched` marker while the slot records still name the source', { timeout: 60_000 }, async () => {
    const { c, api, client: early, direct } = f;
    const moving = keyIn((s) => s >= 512, 'm:');
    const staying = keyIn((s) => s < 512, 's:');
    await early.mset(moving, 'v1', staying, 'v1');
    await api.request('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    await waitSplitStep(api, 1, ['switching']);
    // The coordinator as a starting proxy finds it: the marker switched, the records not rewritten yet.
    expect((await groupRecord(c, 1)).split).toMatchObject({ role: 'source', peer: 2, state: 'switched', slots: [[512, 1023]] });
    expect((await slotRecord(c, 1023)).group).toBe(1);

    const config = loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: c.url, leaseTtl: '3000ms' } });
    late = await startProxy({ config, defaultMetrics: false });
    const client = new Redis({ port: late.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    // A write through the early proxy goes to the new group; the late proxy reads it there, and its own write
    // lands there too (the source's copy, not purged yet, keeps the old value).
    await early.set(moving, 'v2');
    expect(await client.get(moving)).toBe('v2');
    expect(await client.set(moving, 'v3')).toBe('OK');
    expect(await direct[1]!.get(moving)).toBe('v3');
    expect(await direct[0]!.get(moving)).toBe('v1');
    // The staying slot is still the source's.
    expect(await client.set(staying, 'v2')).toBe('OK');
    expect(await direct[0]!.get(staying)).toBe('v2');
    // The new group owns no slot record yet but serves the moved slots: it and its master cannot be removed.
    await expect(api.request('DELETE', '/api/v1/groups/2')).rejects.toThrow(/group 2 is busy: it is in split .* \(target, switched\); remove it after the split/);
    await expect(api.request('DELETE', `/api/v1/groups/2/servers/127.0.0.1:${c.redis[1]!.port}`)).rejects.toThrow(/in split/);
    // All of that happened before the slot records were rewritten (else this test proved nothing).
    expect((await slotRecord(c, 1023)).group).toBe(1);

    const done = await waitSplitStep(api, 1, SPLIT_ENDED);
    expect(done.step, done.reason).toBe('done');
    expect((await slotRecord(c, 1023)).group).toBe(2);
    for (const r of [early, client]) expect(await r.mget(moving, staying)).toEqual(['v3', 'v2']);
    expect(await direct[0]!.exists(moving)).toBe(0);
    client.disconnect();
  });
});
