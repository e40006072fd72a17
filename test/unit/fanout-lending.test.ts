/**
 * Give-back accounting of fan-out requests (proxy/router/lending.ts, requests/fanout.ts): the client's bytes,
 * a lent view of the client arena, come back exactly once and only when every part sent has answered; the
 * parts' reply views come back when merged, or by the reply queue when forwarded or dropped. The requests are
 * the real ones, their client bytes real arena views, their replies views of real lent slabs; the backend is
 * a fake that records sends and answers when told (to force every order of answers and failures).
 */
import { describe, expect, it } from 'vitest';
import type { BackendServer } from '../../proxy/backend/pool.js';
import { lookupCommand } from '../../proxy/commands/lookup.js';
import { arenaLends, handOver, lendRequest, requestAnswered } from '../../proxy/router/lending.js';
import type { ClientRequest, RouterSession } from '../../proxy/router/requests/base.js';
import type { FanoutRequest, Part } from '../../proxy/router/requests/fanout.js';
import { MgetRequest } from '../../proxy/router/requests/mget.js';
import { MsetRequest } from '../../proxy/router/requests/mset.js';
import type { SlotRoute } from '../../proxy/router/slot-table.js';
import { ClientArena } from '../../proxy/session/client-reads.js';
import { ReplyQueue } from '../../proxy/session/reply-queue.js';
import { acquireSlab, lendCounts, lendFrame, returnFrame, type Slab } from '../../proxy/util/lent-slabs.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';

/** A backend server whose one connection records what it is sent (fake: the answers come when the test says). */
function fakeServer(name: string): BackendServer & { sent: Part[] } {
  const sent: Part[] = [];
  const conn = {
    congested: false,
    send: (p: Part) => sent.push(p),
    sendParts: (p: Part) => sent.push(p),
    sendSelected: (p: Part) => sent.push(p),
  };
  return { addr: name, sent, conn: () => conn } as unknown as BackendServer & { sent: Part[] };
}

function route(server: BackendServer): SlotRoute {
  const r = { inflight: 0, server, migrateFrom: null, done: () => void r.inflight-- };
  return r as unknown as SlotRoute;
}

class Session implements RouterSession {
  readonly id = 1;
  readonly db = 0;
  readonly proto = 2 as const;
  readonly readReplica = false;
  readonly replies = new ReplyQueue();
  closed = false;
  enqueue(req: ClientRequest): void {
    this.replies.enqueue(req);
  }
  complete(req: ClientRequest, reply: Buffer): void {
    this.replies.settle(req, reply, this.closed);
  }
  hold(): void {}
  resume(): void {}
  backendHold(): void {}
  backendRelease(): void {}
}

const arena = new ClientArena();

/** A request decoded from the arena and lent, as Session.onRequest does. */
function clientRequest(...args: string[]): { argv: Buffer[]; raw: Buffer } {
  let got: { argv: Buffer[]; raw: Buffer } | undefined;
  const d = new RequestDecoder({ onRequest: (argv, raw) => (got = { argv, raw: raw! }), onProtocolError: () => undefined });
  d.push(arena.copyIn(encodeCommand(args)));
  lendRequest(got!.raw);
  return got!;
}

let replySlab: Slab | null = null;
let replyPos = 0;

/** A backend reply: a view of a lent slab, lent as a backend connection lends it. */
function backendReply(text: string): Buffer {
  const bytes = Buffer.from(text);
  if (replySlab === null || replyPos + bytes.length > replySlab.buf.length) {
    replySlab = acquireSlab(1);
    replyPos = 0;
  }
  const view = replySlab.buf.subarray(replyPos, replyPos + bytes.length);
  bytes.copy(view);
  replyPos += bytes.length;
  lendFrame(view);
  return view;
}

/** Two servers; keys argv[1] (and argv[3] ...) alternate between them. */
function fanout(kind: 'mset' | 'mget', args: string[]) {
  const s = new Session();
  const a = fakeServer('a');
  const b = fakeServer('b');
  const { argv, raw } = clientRequest(...args);
  const req: FanoutRequest = kind === 'mset' ? new MsetRequest(s, 0, 0, argv, raw) : new MgetRequest(s, 0, 0, argv, raw);
  const stride = kind === 'mset' ? 2 : 1;
  const routes = [route(a), route(b)];
  for (let k = 1, i = 0; k < argv.length; k += stride, i++) req.addKey(routes[i % routes.length]!, k);
  s.enqueue(req);
  handOver(req, raw, { lentRaw: undefined, lentSlab: null }); // as the router does (a lookup: nothing lent in hand)
  return { s, a, b, req, raw, routes };
}

const lent = () => lendCounts().lent;

describe('which arena requests are lent (arenaLends)', () => {
  const use = (name: string, mode = 0) => arenaLends(lookupCommand(Buffer.from(name)), mode);
  it('single-key and fan-out commands keep their view; inside MULTI, and any other command, a copy', () => {
    for (const name of ['get', 'set', 'mset', 'mget', 'del', 'exists', 'msetnx']) expect(use(name)).toBe(true);
    for (const name of ['mset', 'get', 'del']) expect(use(name, 1)).toBe(false);
    for (const name of ['multi', 'client', 'eval', 'ping', 'subscribe', 'nosuchcommand']) expect(use(name)).toBe(false);
  });
});

describe('client bytes lent with the slab in hand', () => {
  it('the arena lends the slab of its last read; handOver takes the session\'s slab for the request it lent, looks any other up; each comes back once', () => {
    const before = lendCounts();
    const raw = arena.copyIn(encodeCommand(['SET', 'k', 'v']));
    const slab = arena.lendLast();
    expect(slab.buf.buffer).toBe(raw.buffer);
    expect(lendCounts().lent).toBe(before.lent + 1);
    const inHand = { lentSlab: null as Slab | null };
    // The session's own (no lookup): even a slab the bytes do not lie in would be taken, so identity decides.
    const other = acquireSlab(16);
    handOver(inHand, raw, { lentRaw: raw, lentSlab: other });
    expect(inHand.lentSlab).toBe(other);
    // Another request's bytes (a held one run later): looked up.
    handOver(inHand, raw, { lentRaw: Buffer.from(raw), lentSlab: other });
    expect(inHand.lentSlab).toBe(slab);
    // Bytes that are no slab's (a TLS chunk, a copy): nothing to give back.
    handOver(inHand, Buffer.from('x'), { lentRaw: undefined, lentSlab: null });
    expect(inHand.lentSlab).toBeNull();
    handOver(inHand, raw, { lentRaw: raw, lentSlab: slab });
    requestAnswered(inHand);
    requestAnswered(inHand); // once only
    expect(lendCounts()).toEqual(before);
  });
});

describe('fan-out give-back accounting', () => {
  it('MSET over two servers: the client bytes come back only once both parts answered, the +OK views with them, each once', () => {
    const before = lendCounts();
    const f = fanout('mset', ['MSET', 'k1', 'v1', 'k2', 'v2', 'k3', 'v3']);
    expect(lent()).toBe(before.lent + 1);
    f.req.start();
    expect(f.a.sent.length + f.b.sent.length).toBe(2);
    f.a.sent[0]!.onReply(backendReply('+OK\r\n'));
    expect(lent()).toBe(before.lent + 2); // the client bytes are still read by b's write
    expect(f.s.replies.out.length).toBe(0);
    f.b.sent[0]!.onReply(backendReply('+OK\r\n'));
    expect(f.s.replies.out.map(String)).toEqual(['+OK\r\n']);
    expect(lendCounts()).toEqual(before); // client bytes and both part replies given back
    expect(f.routes.every((r) => r.inflight === 0)).toBe(true);
  });

  it('MGET whose one part fails: the error view is forwarded and given back once written; the other part is given back at once', () => {
    const before = lendCounts();
    const f = fanout('mget', ['MGET', 'k1', 'k2']);
    f.req.start();
    f.b.sent[0]!.onReply(backendReply('-ERR boom\r\n'));
    f.a.sent[0]!.onReply(backendReply('*1\r\n$2\r\nv1\r\n'));
    expect(f.s.replies.out.map(String)).toEqual(['-ERR boom\r\n']);
    expect(lent()).toBe(before.lent + 1); // the error view, until written
    f.s.replies.takeOutput();
    f.s.replies.giveBack();
    expect(lendCounts()).toEqual(before);
  });

  it('one part: the reply is forwarded as it is; a client gone meanwhile drops it, and it is given back unwritten', () => {
    const before = lendCounts();
    const s = new Session();
    const a = fakeServer('a');
    const { argv, raw } = clientRequest('MGET', 'k1', 'k2');
    const req = new MgetRequest(s, 0, 0, argv, raw);
    req.addKey(route(a), 1);
    req.addKey(route(a), 2);
    s.enqueue(req);
    handOver(req, raw, { lentRaw: undefined, lentSlab: null });
    req.start();
    s.closed = true;
    a.sent[0]!.onReply(backendReply('*2\r\n$2\r\nv1\r\n$2\r\nv2\r\n'));
    expect(s.replies.out.length).toBe(0);
    expect(lendCounts()).toEqual(before);
  });

  it('failed after sending (an exception in its dispatch): the client bytes wait for every sent part; late replies come back on arrival', () => {
    const before = lendCounts();
    const f = fanout('mset', ['MSET', 'k1', 'v1', 'k2', 'v2']);
    f.req.start();
    f.req.fail(Buffer.from('-ERR internal\r\n'));
    expect(f.s.replies.out.map(String)).toEqual(['-ERR internal\r\n']);
    expect(lent()).toBe(before.lent + 1); // the parts' writes may still read the client bytes
    f.a.sent[0]!.onReply(backendReply('+OK\r\n'));
    expect(lent()).toBe(before.lent + 1);
    f.b.sent[0]!.onReply(backendReply('+OK\r\n'));
    expect(lendCounts()).toEqual(before);
    expect(f.routes.every((r) => r.inflight === 0)).toBe(true);
  });

  it('failed before it was started (a failed migrate-on-access): the client bytes stay lent for good, nothing is given back twice', () => {
    const before = lendCounts();
    const f = fanout('mset', ['MSET', 'k1', 'v1', 'k2', 'v2']);
    f.req.fail(Buffer.from('-TRYAGAIN\r\n'));
    f.req.fail(Buffer.from('-TRYAGAIN\r\n'));
    expect(f.s.replies.out.length).toBe(1);
    expect(lent()).toBe(before.lent + 1);
    returnFrame(f.raw); // what the slab's owner sees as pinned; the test tidies up
    expect(lendCounts()).toEqual(before);
  });

  it('pipelined MSETs sharing one arena slab: the slab is written over only once every one of them was answered', () => {
    const before = lendCounts();
    const first = fanout('mset', ['MSET', 'a1', 'x'.repeat(100), 'a2', 'y'.repeat(100)]);
    const second = fanout('mset', ['MSET', 'b1', 'z'.repeat(100), 'b2', 'w'.repeat(100)]);
    expect(second.raw.buffer).toBe(first.raw.buffer);
    first.req.start();
    second.req.start();
    for (const p of [...first.a.sent, ...first.b.sent]) p.onReply(backendReply('+OK\r\n'));
    const next = arena.copyIn(Buffer.from('next read'));
    expect(next.byteOffset).toBeGreaterThan(second.raw.byteOffset); // second still lent: appended after it
    expect(second.raw.toString()).toContain('z'.repeat(100));
    for (const p of [...second.a.sent, ...second.b.sent]) p.onReply(backendReply('+OK\r\n'));
    expect(lendCounts()).toEqual(before);
    expect(arena.copyIn(Buffer.from('again')).byteOffset).toBe(0); // nothing lent: written over from its start
  });
});
