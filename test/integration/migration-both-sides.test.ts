/**
 * Issue 15 hole 6: the mover's clean-up of a key left on both sides by an interrupted MIGRATE, against real
 * redis-servers. The interruption is real too: the target is paused (CLIENT PAUSE WRITE) so MIGRATE times
 * out; the "half-done MIGRATE" copy on the target is planted with RESTORE of the source's own DUMP, which is
 * what MIGRATE leaves behind when its DEL on the source never ran.
 */
import { describe, expect, it } from 'vitest';
import type { RedisServerHandle } from '../support/redis-server.js';
import { ok, useRedisPair } from '../support/redis-pair.js';
import { RedisAdmin } from '../../dashboard/redis/admin.js';
import { slotOf } from '../../shared/slot.js';
import { SourceMover } from '../../dashboard/migration/mover.js';
import { resolveBothSides } from '../../shared/both-sides.js';
import { setLogLevel } from '../../shared/log.js';

setLogLevel('silent');

let src: RedisServerHandle;
let dst: RedisServerHandle;
let a: RedisAdmin;
let b: RedisAdmin;

useRedisPair((p) => ({ src, dst, a, b } = p));

/** Plants on the target what an interrupted MIGRATE leaves: the source's DUMP restored with its remaining TTL. */
async function halfMigrated(key: string): Promise<void> {
  const dump = (await ok(a.callBuffers('DUMP', key))) as Buffer;
  const pttl = Number(await ok(a.callBuffers('PTTL', key)));
  await ok(b.callBuffers('RESTORE', key, pttl > 0 ? pttl : 0, dump));
}

function runMover(key: string) {
  return new SourceMover({
    source: { addr: src.addr },
    slots: [{ slot: slotOf(Buffer.from(key)), target: { addr: dst.addr } }],
    knobs: { migrateTimeoutMs: 200, retries: 30 },
  }).run();
}

describe('both-sides clean-up: value and expiry, atomically on the source (hole 6)', () => {
  it('a PERSIST acknowledged on the source after the half-done MIGRATE is not deleted with the source copy', async () => {
    // Fails before issue 15: DUMPs (which carry no TTL) compared equal, the source copy was deleted, and the
    // key survived only on the target WITH the expiry the client had removed: the PERSIST was lost.
    await ok(a.callBuffers('SET', 'ttl:k', 'v', 'EX', 100));
    await halfMigrated('ttl:k');
    await ok(a.callBuffers('PERSIST', 'ttl:k')); // a client's write, acknowledged by the source
    await ok(b.callBuffers('CLIENT', 'PAUSE', 600, 'WRITE')); // the next MIGRATE times out: reconcile runs
    const [slot] = await runMover('ttl:k');
    expect(slot!.state).toBe('error');
    expect(slot!.error?.code).toBe('REDSLOT_ERR_MIGRATION_BUSYKEY');
    expect(Number(await ok(a.callBuffers('PTTL', 'ttl:k')))).toBe(-1); // the source copy, persistent, kept
  });

  it('an identical copy (value and expiry) is deleted from the source; the key ends once on the target with its TTL', async () => {
    await ok(a.callBuffers('SET', 'same:k', 'v', 'EX', 100));
    await halfMigrated('same:k');
    await ok(b.callBuffers('CLIENT', 'PAUSE', 600, 'WRITE'));
    const [slot] = await runMover('same:k');
    expect(slot!.state).toBe('done');
    expect(await ok(a.callBuffers('EXISTS', 'same:k'))).toBe(0);
    expect(String(await ok(b.callBuffers('GET', 'same:k')))).toBe('v');
    const ttl = Number(await ok(b.callBuffers('PTTL', 'same:k')));
    expect(ttl).toBeGreaterThan(90_000);
  });

  it('resolveBothSides: one script on the source decides; each outcome on real servers', async () => {
    const t = (args: Array<string | number | Buffer>) => b.callBuffers(...args);
    const s = (args: Array<string | number | Buffer>) => a.callBuffers(...args);
    await ok(a.callBuffers('SET', 'o:1', 'x'));
    await halfMigrated('o:1');
    expect(await resolveBothSides(Buffer.from('o:1'), t, s)).toBe('deleted-source');
    await ok(a.callBuffers('SET', 'o:2', 'x'));
    await halfMigrated('o:2');
    await ok(a.callBuffers('APPEND', 'o:2', 'y')); // a source-first write after the RESTORE
    expect(await resolveBothSides(Buffer.from('o:2'), t, s)).toBe('value-differs');
    expect(String(await ok(a.callBuffers('GET', 'o:2')))).toBe('xy');
    await ok(a.callBuffers('SET', 'o:3', 'x'));
    await halfMigrated('o:3');
    await ok(a.callBuffers('PEXPIRE', 'o:3', 50_000));
    expect(await resolveBothSides(Buffer.from('o:3'), t, s)).toBe('expiry-differs');
    expect(await resolveBothSides(Buffer.from('o:none'), t, s)).toBe('target-gone');
  });
});

describe('both-sides copy left by a proxy\'s timed-out MIGRATE (hole 7)', () => {
  it('BUSYKEY on an identical copy is resolved with the same atomic rule: the slot finishes, the key once on the target', async () => {
    // Fails before issue 15: BUSYKEY stopped the slot for manual repair although the target copy was our
    // own (a client-path MIGRATE that timed out after its RESTORE).
    await ok(a.callBuffers('SET', 'busy:k', 'v', 'PX', 100_000));
    await halfMigrated('busy:k');
    const [slot] = await runMover('busy:k');
    expect(slot!.error).toBeUndefined();
    expect(slot!.state).toBe('done');
    expect(await ok(a.callBuffers('EXISTS', 'busy:k'))).toBe(0);
    expect(String(await ok(b.callBuffers('GET', 'busy:k')))).toBe('v');
  });
});
