/**
 * A big reply in parts (proxy/session/reply-queue.ts part()): written at once when every earlier reply is out,
 * else kept on its request until it is; muted ones dropped whole; a reply broken off tells whether any part
 * went out. Lent views (proxy/util/lent-slabs.ts) are each given back exactly once, written or dropped.
 */
import { describe, expect, it } from 'vitest';
import { ReplyQueue } from '../../proxy/session/reply-queue.js';
import { ClientRequest, type RouterSession } from '../../proxy/router/requests/base.js';
import { acquireSlab, lendCounts, lendFrame } from '../../proxy/util/lent-slabs.js';

const session = {} as RouterSession;

function entry(q: ReplyQueue): ClientRequest {
  const r = new ClientRequest(session, 0, 0);
  r.lendsReply = true;
  q.enqueue(r);
  return r;
}

/** A lent view of a slab holding `text`, as a backend connection hands out. */
function lent(text: string): Buffer {
  const s = acquireSlab(1);
  const v = s.buf.subarray(0, text.length);
  v.write(text, 'latin1');
  lendFrame(v);
  return v;
}

/** A queue of two entries, `a` then `b`. */
function twoEntries(): { q: ReplyQueue; a: ClientRequest; b: ClientRequest } {
  const q = new ReplyQueue();
  return { q, a: entry(q), b: entry(q) };
}

const out = (q: ReplyQueue) => q.takeOutput().map((b) => b.toString('latin1'));

describe('reply queue, replies in parts', () => {
  it('the head: each part goes to the output at once; the last one settles it and releases what waited behind', () => {
    const { q, a, b } = twoEntries();
    q.settle(b, lent('+B\r\n'), false);
    q.part(a, lent('$6\r\nab'));
    expect(out(q)).toEqual(['$6\r\nab']);
    q.part(a, lent('cd'));
    expect(q.settle(a, lent('ef\r\n'), false)).toBe(2);
    expect(out(q)).toEqual(['cd', 'ef\r\n', '+B\r\n']);
    expect(q.head).toBeNull();
    expect(q.streaming).toBeNull();
  });

  it('behind an awaited reply: parts kept on the request, out in order once it is the head, then live', () => {
    const { q, a, b } = twoEntries();
    q.part(b, lent('$6\r\nab'));
    q.part(b, lent('cd'));
    expect(q.out).toEqual([]);
    expect(q.inParts(b)).toBe(true);
    q.settle(a, lent('+A\r\n'), false); // a is out: b's kept parts follow it now
    expect(out(q)).toEqual(['+A\r\n', '$6\r\nab', 'cd']);
    expect(q.streaming).toBe(b);
    q.settle(b, lent('ef\r\n'), false);
    expect(out(q)).toEqual(['ef\r\n']);
  });

  it('a reply completed while still behind another: its kept parts go out before its last part', () => {
    const { q, a, b } = twoEntries();
    q.part(b, lent('$4\r\nab'));
    q.settle(b, lent('cd\r\n'), false);
    q.settle(a, lent('+A\r\n'), false);
    expect(out(q)).toEqual(['+A\r\n', '$4\r\nab', 'cd\r\n']);
  });

  it('muted (CLIENT REPLY SKIP): parts never reach the output and are given back with the reply', () => {
    const before = lendCounts().lent;
    const q = new ReplyQueue();
    q.skip = 2;
    const a = entry(q);
    q.skip = 0;
    const b = entry(q);
    q.part(a, lent('$4\r\nab'));
    q.settle(a, lent('cd\r\n'), false);
    q.settle(b, lent('+B\r\n'), false);
    expect(out(q)).toEqual(['+B\r\n']);
    q.giveBack();
    expect(lendCounts().lent).toBe(before);
  });

  it('broken off before any part went out: the kept parts are given back, the error takes the reply\'s place', () => {
    const before = lendCounts().lent;
    const { q, a, b } = twoEntries();
    q.part(b, lent('$4\r\nab'));
    expect(q.abandonParts(b)).toBe(false);
    expect(lendCounts().lent).toBe(before);
    q.settle(b, Buffer.from('-ERR lost\r\n'), false);
    q.settle(a, Buffer.from('+A\r\n'), false);
    expect(out(q)).toEqual(['+A\r\n', '-ERR lost\r\n']);
  });

  it('broken off after parts went out: says so (the session disconnects the client)', () => {
    const q = new ReplyQueue();
    const a = entry(q);
    q.part(a, lent('$4\r\nab'));
    expect(q.abandonParts(a)).toBe(true);
  });

  it('the client gone: kept parts and replies are given back unwritten', () => {
    const before = lendCounts().lent;
    const { q, a, b } = twoEntries();
    q.part(b, lent('$4\r\nab'));
    q.settle(b, lent('cd\r\n'), true);
    q.settle(a, lent('+A\r\n'), true);
    expect(q.out).toEqual([]);
    expect(lendCounts().lent).toBe(before);
  });
});
