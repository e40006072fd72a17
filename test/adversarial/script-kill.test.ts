/**
 * Attack: a runaway Lua script (`EVAL "while true do end" 0`, and the same as a function with FCALL).
 * Before issue 14, SCRIPT KILL through the proxy never answered: it was pipelined on the very connection
 * whose script Redis was running, and every command of that group hung behind it.
 * Shown here, on 2 real groups (busy-reply-threshold 500 ms so Redis accepts a kill quickly, and
 * backend.replyTimeout 2 s, shorter than the script, so the watchdog is tested too):
 * - SCRIPT KILL / FUNCTION KILL through the proxy answers OK within 1 s and the script's client gets Redis's error;
 * - meanwhile the other group serves normally, and new commands for the busy group get Redis's BUSY error at
 *   once (not a hang);
 * - a write queued behind the script before the BUSY was known is not lost or failed by the reply-timeout
 *   watchdog: it runs after the kill and is acknowledged;
 * - without a script running, SCRIPT KILL answers Redis's NOTBUSY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type Cluster } from '../integration/proxy-cluster.js';
import { Clients, figure, rssMb, timed, until } from './support.js';

let c: Cluster;
const clients = new Clients(() => c.port);
const open = (): Promise<Redis> => clients.open();

/** A key served by group index g. */
function keyOn(g: number, prefix: string): string {
  for (let i = 0; ; i++) if (c.groupOfKey(`${prefix}${i}`) === g) return `${prefix}${i}`;
}

beforeAll(async () => {
  c = await startCluster({ groups: 2, redisArgs: ['--busy-reply-threshold', '500'], overrides: { backend: { replyTimeout: '2s' } } });
});

afterAll(async () => {
  clients.closeAll();
  await c?.stop();
});

describe('runaway scripts', () => {
  it('SCRIPT KILL with no script running answers NOTBUSY like Redis', async () => {
    const r = await open();
    await expect(r.script('KILL')).rejects.toThrow(/^NOTBUSY No scripts in execution right now\.$/);
  });

  it('EVAL "while true do end": bystanders served, BUSY at once for the busy group, SCRIPT KILL within 1 s, queued write kept', async () => {
    const rss0 = rssMb();
    const attacker = await open();
    const bystander = await open();
    const other = await open();
    const killer = await open();
    const busyGroup = c.groupOfSlot(0); // keyless scripts run on the group serving slot 0
    const queuedKey = keyOn(busyGroup, 'queued');
    const busyKey = keyOn(busyGroup, 'busy');
    const otherKey = keyOn(1 - busyGroup, 'other');
    await bystander.set(busyKey, 'before');

    const script = attacker.eval('while true do end', 0).then(
      () => null,
      (e: Error) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    // Pipelined behind the script on the shared connection before anyone knows it is busy.
    const queued = bystander.set(queuedKey, 'kept');

    const t = await timed(other.set(otherKey, 'v'));
    expect(t.error).toBeUndefined();
    expect(t.ms).toBeLessThan(500);

    // Within a few seconds the proxy knows the group is busy: new commands get Redis's BUSY error at once.
    let busyAfter = 0;
    const t0 = performance.now();
    // Each probe on a fresh client: a client's replies keep their order, so one whose GET still waits behind
    // the script cannot see a later BUSY before it (that GET runs after the kill).
    let fastBusy = Infinity;
    await until(async () => {
      const probe = await open();
      const g = await timed(Promise.race([probe.get(busyKey), new Promise((_, reject) => setTimeout(() => reject(new Error('slow')), 300))]));
      if (g.error && /^BUSY Redis is busy running a script/.test(g.error.message)) {
        fastBusy = g.ms;
        busyAfter = performance.now() - t0;
        return true;
      }
      return false;
    }, 8000, 'a BUSY reply for the busy group');
    expect(fastBusy).toBeLessThan(300);
    figure('script: BUSY answered to others after', busyAfter, ' ms');

    // Past backend.replyTimeout (2 s): the watchdog must not have reset the connection (the queued SET would fail).
    await new Promise((r) => setTimeout(r, 2500));
    const rssAttack = rssMb();

    const kill = await timed(killer.script('KILL'));
    expect(kill.error).toBeUndefined();
    expect(kill.value).toBe('OK');
    expect(kill.ms).toBeLessThan(1000);
    figure('script: SCRIPT KILL answered in', kill.ms, ' ms');

    const scriptError = await script;
    expect(scriptError?.message).toMatch(/Script killed by user with SCRIPT KILL/);
    expect(await queued).toBe('OK');
    expect(await c.direct(busyGroup).get(queuedKey)).toBe('kept');
    expect(await bystander.get(busyKey)).toBe('before');
    const rss1 = rssMb();
    figure('script: RSS baseline / under attack / after', `${rss0.toFixed(1)} / ${rssAttack.toFixed(1)} / ${rss1.toFixed(1)}`, ' MB');
    expect(rss1 - rss0).toBeLessThan(64);
    expect(c.proxy.runtime.metrics.guards.script_kill).toBeGreaterThan(0);
    expect(c.proxy.runtime.metrics.guards.busy).toBeGreaterThan(0);
  });

  it('FCALL of an endless function: FUNCTION KILL through the proxy within 1 s', async () => {
    const admin = await open();
    await admin.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=spin\nredis.register_function('spin', function() while true do end end)");
    const attacker = await open();
    const killer = await open();
    const fcall = (attacker.call('FCALL', 'spin', '0') as Promise<unknown>).then(
      () => null,
      (e: Error) => e,
    );
    // Redis accepts the kill once the function ran past busy-reply-threshold (500 ms).
    await new Promise((r) => setTimeout(r, 800));
    const kill = await timed(killer.call('FUNCTION', 'KILL') as Promise<unknown>);
    expect(kill.error).toBeUndefined();
    expect(kill.value).toBe('OK');
    expect(kill.ms).toBeLessThan(1000);
    figure('function: FUNCTION KILL answered in', kill.ms, ' ms');
    expect((await fcall)?.message).toMatch(/killed by user/);
    expect(await killer.ping()).toBe('PONG');
  });
});
