/**
 * How a decoded request enters dispatch (the session's RequestHandler callbacks): its bytes lent or copied
 * as where it was read and its command require (router/lending.ts), then held or dispatched. Requests
 * inside one read come as offsets first (takeSpans): routed straight from their raw bytes when dispatch
 * would only route them, else declined, and the decoder hands them again as argv (takeRequest).
 */
import { ProtocolErrors } from '../../shared/resp/request-decoder.js';
import { argvOfSpans, spanEnd, type RequestSpans } from '../../shared/resp/request-spans.js';
import { lookupCommand, lookupCommandAt, type CommandSpec } from '../commands/lookup.js';
import { DISPATCHED, isDispatched, type DispatchResult } from '../router/dispatch-result.js';
import { arenaLends, lendRequest } from '../router/lending.js';
import type { Slab } from '../util/lent-slabs.js';
import type { Backpressure } from './backpressure.js';
import type { ClientInfo } from './client-info.js';
import { clientArena, ownCopy, ReadOrigin } from './client-reads.js';
import { dispatchSpans, spansKeys, type DispatchEnv, type DispatchingSession } from './dispatch.js';
import type { HeldRequests } from './held-requests.js';
import type { ReplyQueue } from './reply-queue.js';

/** What intake needs of the session. */
export interface IntakeSession extends DispatchingSession {
  readonly env: DispatchEnv;
  readonly client: ClientInfo;
  readonly replies: ReplyQueue;
  readonly held: HeldRequests;
  readonly pressure: Backpressure;
  /** Where the read being decoded landed (client-reads.ts). */
  readonly origin: ReadOrigin;
  /** LendingSession: the arena bytes lent for the request being dispatched now, and their slab. */
  lentRaw: Buffer | undefined;
  lentSlab: Slab | null;
  /** Dispatch counter (ClientRequest.epoch). */
  epoch: number;
  /** Arguments of the request being dispatched (null when it came as offsets: rawBeingDispatched). */
  currentArgv: Buffer[] | null;
  execute(argv: Buffer[], raw: Buffer | undefined, spec?: CommandSpec): DispatchResult;
  internalError(epoch: number, err: unknown): void;
  onProtocolError(message: string): void;
}

/**
 * The request takeSpans declined and its command (the decoder hands it to takeRequest at once): one lookup
 * per request. Per thread, not per session (requests are decoded one at a time; no memory per connection).
 */
const declined: { raw: Buffer | null; spec: CommandSpec | undefined } = { raw: null, spec: undefined };

/**
 * The raw bytes of the request takeSpans is dispatching, and its session (ClientRequest.clientRaw, SLOWLOG:
 * currentArgv's counterpart). Per thread, not a field: a field more cost every idle connection 48 B of heap.
 */
const dispatching: { session: IntakeSession | null; raw: Buffer | null } = { session: null, raw: null };

/** The raw bytes of the request `s` is dispatching when it came as offsets (currentArgv null), else null. */
export function rawBeingDispatched(s: IntakeSession): Buffer | null {
  return dispatching.session === s ? dispatching.raw : null;
}

/** RequestHandler.onRequest: one complete request as argv. */
export function takeRequest(s: IntakeSession, argv: Buffer[], raw: Buffer | undefined): void {
  // Declined by takeSpans just now: its lookup is not made twice.
  let spec: CommandSpec | undefined;
  if (raw !== undefined && raw === declined.raw) {
    spec = declined.spec;
    declined.raw = null;
  } else spec = lookupCommand(argv[0]!);
  // A request read into a carry buffer (a lent slab, or a buffer of its own: client-reads.ts) is lent: the
  // plain single-key and fan-out paths give it back once answered; any other keeps it, and that slab is
  // never reused. TLS reads take this path too: lending ignores buffers that are no slab's.
  if (raw !== undefined) {
    if (s.origin === ReadOrigin.Own) lendRequest(raw);
    // Not expected (incompleteTail said no request ends in it), but a view of the scratch must never be kept.
    else if (s.origin === ReadOrigin.Scratch) raw = ownCopy(argv, raw);
    // A request inside one read is a view of the arena: lent, or copied, as its command needs (router/lending.ts).
    else if (s.origin === ReadOrigin.Arena) {
      if (arenaLends(spec, s.mode)) {
        s.lentSlab = clientArena.lendLast();
        s.lentRaw = raw;
      } else raw = ownCopy(argv, raw);
    }
  }
  const held = s.held;
  if (held.blocking) {
    if (!held.add(argv, raw)) {
      // Held requests count in the query buffer, like Redis's unprocessed input.
      s.lentRaw = undefined;
      s.lentSlab = null;
      s.onProtocolError(ProtocolErrors.queryBufferLimit);
      return;
    }
  } else {
    const result = s.execute(argv, raw, spec);
    if (!isDispatched(result)) held.waitFor(result, argv, raw);
  }
  s.lentRaw = undefined;
  s.lentSlab = null;
  s.pressure.accepted(s.replies.queued + held.length);
}

/**
 * RequestHandler.onRequestSpans: a request inside one read, as offsets (the decoder made no argument views).
 * When dispatch would only route it (a plain GET, SET, MSET, DEL... of a client in no MULTI, not held),
 * routed from its raw bytes; else false, and it comes again through takeRequest.
 */
export function takeSpans(s: IntakeSession, raw: Buffer, spans: RequestSpans): boolean {
  declined.raw = null;
  // Straight from the shared read scratch (client-reads.ts feeds such a read only to a request it carries):
  // the argv path copies what it keeps.
  if (s.origin === ReadOrigin.Scratch) return false;
  if (s.mode !== 0 || s.held.blocking || s.replies.skip !== 0) return false;
  const env = s.env;
  const spec = lookupCommandAt(raw, spans.data[0]!, spanEnd(spans, 0));
  const keys = spansKeys(s.client, env, spec, spans.count);
  if (keys === null) {
    declined.raw = raw;
    declined.spec = spec;
    return false;
  }
  // Lent as takeRequest lends it (these routes always lend the arena).
  if (s.origin === ReadOrigin.Own) lendRequest(raw);
  else if (s.origin === ReadOrigin.Arena) {
    s.lentSlab = clientArena.lendLast();
    s.lentRaw = raw;
  }
  let result: DispatchResult = DISPATCHED;
  const epoch = ++s.epoch;
  s.currentArgv = null;
  dispatching.session = s;
  dispatching.raw = raw;
  try {
    result = dispatchSpans(s, env, spec!, raw, spans, keys);
  } catch (err) {
    s.internalError(epoch, err);
  }
  if (!isDispatched(result)) s.held.waitFor(result, argvOfSpans(raw, spans), raw);
  dispatching.session = null;
  dispatching.raw = null;
  s.lentRaw = undefined;
  s.lentSlab = null;
  s.pressure.accepted(s.replies.queued + s.held.length);
  return true;
}
