import { describe, expect, it } from 'vitest';
import { BackendPool } from '../../proxy/backend/pool.js';
import { missingLocalHandlers } from '../../proxy/local/index.js';
import { SlotTable } from '../../proxy/router/slot-table.js';
import { unknownCommandError } from '../../proxy/session.js';
import { Fifo } from '../../proxy/util/fifo.js';
import { allErrorSpecs } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import type { GroupRecord, SlotRecord, Topology } from '../../shared/model/types.js';
import '../../proxy/errors.js';

function topo(revision: number, change: (s: SlotRecord) => SlotRecord = (s) => s): Topology {
  const groups = new Map<number, GroupRecord>([
    [1, { id: 1, weight: 1, servers: [{ addr: '127.0.0.1:1', role: 'master' }] }],
    [2, { id: 2, weight: 1, servers: [{ addr: '127.0.0.1:2', role: 'master' }] }],
  ]);
  const slots = Array.from({ length: 1024 }, (_, id) => change({ id, group: id < 512 ? 1 : 2 }));
  return { revision, groups, slots };
}

function pool(): BackendPool {
  return new BackendPool(
    { connectionsPerServer: 1, databases: 16, dialTimeoutMs: 100, backoffMinMs: 10, backoffMaxMs: 100, replyTimeoutMs: 1000, keepAliveMs: 0, user: '', password: '' },
    createLogger(),
  );
}

describe('slot table', () => {
  it('keeps route objects of unchanged slots, swaps changed ones, resolves once retired routes drain', async () => {
    const p = pool();
    const t = new SlotTable(p);
    await t.apply(topo(1));
    const r5 = t.routes[5]!;
    const r600 = t.routes[600]!;
    expect(r5.server!.addr).toBe('127.0.0.1:1');
    r5.inflight = 2; // two requests in flight on slot 5
    r600.inflight = 1;
    let done = false;
    const applying = t.apply(topo(2, (s) => (s.id === 5 ? { ...s, group: 2 } : s))).then(() => (done = true));
    expect(t.routes[600]).toBe(r600); // unchanged slot: same object, its in-flight count is not involved
    expect(t.routes[5]).not.toBe(r5);
    expect(t.routes[5]!.server!.addr).toBe('127.0.0.1:2');
    expect(t.drainingRequests()).toBe(2);
    r5.done();
    await Promise.resolve();
    expect(done).toBe(false);
    r5.done();
    await applying;
    expect(done).toBe(true);
    expect(t.revision).toBe(2);
    await p.close(true);
  });

  it('wakes waiters of a slot when its route changes', async () => {
    const p = pool();
    const t = new SlotTable(p);
    await t.apply(topo(1, (s) => (s.id === 7 ? { ...s, action: { state: 'prepared', target: 2, index: 1 } } : s)));
    expect(t.routes[7]!.locked).toBe(true);
    let woken = 0;
    t.wait(7, { onSlotReady: () => woken++ });
    await t.apply(topo(2, (s) => (s.id === 8 ? { ...s, group: 0 } : s.id === 7 ? { ...s, action: { state: 'prepared', target: 2, index: 1 } } : s)));
    expect(woken).toBe(0);
    await t.apply(topo(3, (s) => (s.id === 7 ? { ...s, action: { state: 'migrating', target: 2, index: 1 } } : s)));
    expect(woken).toBe(1);
    expect(t.routes[7]!.migrateFrom!.addr).toBe('127.0.0.1:1');
    expect(t.routes[7]!.server!.addr).toBe('127.0.0.1:2');
    await p.close(true);
  });
});

describe('fifo', () => {
  it('keeps order across growth, shift and unshift', () => {
    const f = new Fifo<number>(2);
    for (let i = 0; i < 100; i++) f.push(i);
    for (let i = 0; i < 50; i++) expect(f.shift()).toBe(i);
    f.unshift(49);
    for (let i = 100; i < 130; i++) f.push(i);
    expect(f.drain()).toEqual(Array.from({ length: 81 }, (_, i) => i + 49));
    expect(f.length).toBe(0);
    expect(f.shift()).toBeUndefined();
  });
});

describe('replies like Redis', () => {
  it("unknown command error: args quoted, cut at 128 bytes, CR/LF replaced", () => {
    const b = (s: string) => Buffer.from(s);
    expect(unknownCommandError([b('foo'), b('a'), b('b')]).toString()).toBe("-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    expect(unknownCommandError([b('x\r\ny')]).toString()).toBe("-ERR unknown command 'x  y', with args beginning with: \r\n");
    const long = unknownCommandError([b('cmd'), Buffer.alloc(200, 0x61), b('next')]).toString();
    expect(long).toBe(`-ERR unknown command 'cmd', with args beginning with: '${'a'.repeat(128)}' \r\n`);
  });

  it('every local command has a handler; every proxy error code is unique and documented', () => {
    expect(missingLocalHandlers()).toEqual([]);
    const specs = allErrorSpecs().filter((s) => s.code.startsWith('REDSLOT_ERR_'));
    expect(new Set(specs.map((s) => s.code)).size).toBe(specs.length);
    for (const s of specs) expect(s.description.length).toBeGreaterThan(10);
  });
});
