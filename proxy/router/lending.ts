/**
 * Lending: who gives back what, and when, in one place. Client requests (the client arena,
 * proxy/session/client-reads.ts) and backend replies (proxy/backend/read-slab.ts) are views of recycled slabs
 * (proxy/util/lent-slabs.ts): a slab is written over once every view of it has been given back. A view given
 * back while anything still reads it corrupts another client's data; one never given back only leaves its slab
 * to the GC. So each lent view is given back once, by its last holder, and when in doubt never.
 *
 * Client request bytes (`raw`; the request's argv are views of it):
 * - Session.onRequest: a request decoded from the arena is lent (lendRequest) when its command's routed
 *   request gives the bytes back (arenaLends), else it gets a copy of its own on the spot (ownCopy): MULTI
 *   queues, client names, scripts ... may keep their argv. A request read into a buffer of its own (carried
 *   over reads) is lent whatever its command. One that spanned reads without being carried (inline) has no
 *   `raw`: its arguments are copies, nothing is lent.
 * - the router hands them to the request that sends them (handOver) when nothing else will read them; that
 *   request gives them back once its backend answered (requestAnswered): the backend has read every byte, so
 *   no write still references them (proxy/backend/output-batch.ts). A fan-out request (requests/fanout.ts)
 *   does so once every part it sent has answered, whatever the answers (a lost connection answers its
 *   requests only after its socket is gone), and after its own reply went to the session. Migrate-on-access
 *   steps run before the request is started and are done with the keys by then. Any other path (a single-key
 *   command's migrate-on-access, an error the router answers) keeps them lent for good.
 * - a request finished without its backend's answer (requestFailed: an exception in its dispatch, a failed
 *   migrate-on-access) keeps them lent: a write may still read them.
 *
 * Backend reply views (lent by the connection that read them, proxy/backend/connection.ts, with the read slab
 * in hand: it passes the slab on with the reply, BackendRequest.onReply):
 * - a request whose reply is such a view and goes to the client as it is says so (ClientRequest.lendsReply, and
 *   replySlab when it was given the slab); the reply queue keeps the slab (lentReplySlab: looked up when not
 *   given) and gives it back once written (giveBackSlabs): the kernel took it, or the write completed; or at
 *   once when it is dropped unwritten (CLIENT REPLY OFF, the client is gone).
 * - a fan-out request gives back its parts' replies (or the pieces a big one came in) when it merges them into
 *   a reply of its own (a copy, a constant, or views lent on their own), keeps the one it forwards as is
 *   (lendsReply; a lone part's big reply streams, each part lent as a single key's), and gives back at once a
 *   part reply arriving after it failed, and the pieces of one that broke off; a single-key request, a reply
 *   arriving after it failed (giveBackReply).
 * - a reply view handed to anything else (migrate steps, side commands) is kept lent for good.
 */
import type { CommandSpec } from '../commands/spec.js';
import { giveBackSlab, lendFrame, returnFrame, slabOf, type Slab } from '../util/lent-slabs.js';

/**
 * Whether a request decoded from the client arena keeps its view, lent (the routed request gives it back once
 * its backends answered), or gets a copy of its own (the command may keep its argv: MULTI queue, names, script
 * cache ...). `spec` undefined: unknown command; `mode` 0: no MULTI, no RESP2 Pub/Sub.
 */
export function arenaLends(spec: CommandSpec | undefined, mode: number): boolean {
  if (spec === undefined || mode !== 0) return false;
  switch (spec.route) {
    case 'single':
    case 'msetnx':
    case 'mset':
    case 'mget':
    case 'sum':
      return true;
    default:
      return false;
  }
}

/** Session.onRequest: the request's bytes, a view of the arena, stay unchanged until given back. */
export const lendRequest: (raw: Buffer) => void = lendFrame;

/** A request that may hold its client's lent bytes. */
export interface BytesHolder {
  /** The slab of the client's bytes it gives back once answered; null when it holds none (or they are kept for good). */
  lentSlab: Slab | null;
}

/**
 * What the session lent for the request it is dispatching now: its bytes, and the slab they were lent from
 * (lent with the slab in hand, so giving them back needs no lookup). Anything else (a held request run later,
 * a carried one) is looked up.
 */
export interface LendingSession {
  readonly lentRaw: Buffer | undefined;
  readonly lentSlab: Slab | null;
}

/** The router: `req` alone reads `raw` from now on (buffers that are no slab's are not lent: nothing to give back). */
export function handOver(req: BytesHolder, raw: Buffer | undefined, from: LendingSession): void {
  if (raw !== undefined) req.lentSlab = raw === from.lentRaw ? from.lentSlab : slabOf(raw);
}

/** `req`'s backend answered: it read every byte, the client's bytes are free. */
export function requestAnswered(req: BytesHolder): void {
  const slab = req.lentSlab;
  if (slab === null) return;
  req.lentSlab = null;
  giveBackSlab(slab);
}

/** `req` finished without its backend's answer: its bytes may still wait to be written, so they stay lent. */
export function requestFailed(req: BytesHolder): void {
  req.lentSlab = null;
}

/** A view inside a lent reply handed on by itself (an MGET element, fanout.ts mergeViews): lent on its own. */
export const lendReplyView: (view: Buffer) => void = lendFrame;

/** A reply view whose holder drops it unread by anyone else (a late reply, a merged part, a dropped reply). */
export const giveBackReply: (view: Buffer) => void = returnFrame;

/**
 * The slab to give back for a lent reply view, once its holder is done: the one the backend connection lent it
 * from when known (`slab`), else looked up (null: no slab's, nothing to give back).
 */
export function lentReplySlab(view: Buffer, slab: Slab | null): Slab | null {
  return slab ?? slabOf(view);
}

/** A lent reply view dropped unwritten: given back (to `slab` when known, else looked up). */
export function giveBackLentReply(view: Buffer, slab: Slab | null): void {
  const s = lentReplySlab(view, slab);
  if (s !== null) giveBackSlab(s);
}

/** Written (or never to be written): a view lent from each slab in `slabs` is given back, and the list emptied. */
export function giveBackSlabs(slabs: Slab[]): void {
  while (slabs.length !== 0) giveBackSlab(slabs.pop()!);
}

/** Written (or never to be written): the lent reply views in `views` are given back, and the list emptied. */
export function giveBackReplies(views: Buffer[]): void {
  // pop(), not `length = 0` (a call into the runtime, ~60 ns: once per client flush); the order does not matter.
  while (views.length !== 0) returnFrame(views.pop()!);
}
