/**
 * What every routed request shares: its place in the session's ordered reply queue, and how the router
 * starts it (now, or after migrate-on-access moved its keys).
 */
import type { Slab } from '../../util/lent-slabs.js';

/** The session as the router and requests see it. */
export interface RouterSession {
  /** Stable per client; picks which of a server's connections this client uses (keeps its order). */
  readonly id: number;
  readonly db: number;
  /** RESP version of the client: its forwarded commands use backend connections speaking the same. */
  readonly proto: 2 | 3;
  /** READONLY (or reads: replica-preferred): read-only single-slot commands may be served by a replica. */
  readonly readReplica: boolean;
  /** Appends `req` to the ordered reply queue (before anything is sent for it). */
  enqueue(req: ClientRequest): void;
  /** `req`'s reply is in; replies leave in request order. */
  complete(req: ClientRequest, reply: Buffer): void;
  /** Whether `req`'s reply may come in parts (big replies are not assembled). Optional: no = whole. */
  takesParts?(req: ClientRequest): boolean;
  /** A part of `req`'s reply (a lent backend view, after takesParts said yes); the last one goes through complete(). */
  replyPart?(req: ClientRequest, part: Buffer): void;
  /** `req`'s reply broke off after some parts: if some went out, the client cannot be told in-band and is disconnected. */
  replyBroken?(req: ClientRequest): void;
  /** Stop dispatching this client's next requests until resume(): migrate-on-access keeps order this way. */
  hold(): void;
  resume(): void;
  /**
   * A backend connection it sent to is congested: hold dispatch and stop reading the client until the
   * matching backendRelease() (proxy/backend/connection.ts, MAX_BACKEND_BUFFERED_BYTES).
   */
  backendHold(): void;
  backendRelease(): void;
}

/**
 * One client request's entry in the ordered reply queue. One is made per request: its fields are `declare`d
 * and set in the constructor (plain stores), not class fields, which the ES2022 output defines one by one in
 * a separate initializer before the constructor sets them again (a call and twice the stores per request).
 */
export class ClientRequest {
  declare reply: Buffer | null;
  declare next: ClientRequest | null;
  /** The first parts of a big reply that arrived while earlier replies were awaited (reply-queue.ts part()). */
  declare replyParts: Buffer[] | null;
  /** The session's dispatch number when enqueued: what an exception in that dispatch must answer. */
  declare epoch: number;
  /** The client's arguments (a reference, for the slow log; null for pushes). */
  declare clientArgv: Buffer[] | null;
  /** The client's request bytes when it came as offsets (clientArgv null): the slow log decodes them. */
  declare clientRaw: Buffer | null;
  /** Pub/Sub messages and (un)subscribe confirmations: sent even under CLIENT REPLY OFF / SKIP, as Redis does. */
  declare pushes: boolean;
  /**
   * The reply is a lent backend reply view this request alone holds: the reply queue gives it back once
   * written (router/lending.ts).
   */
  declare lendsReply: boolean;
  /** The slab that reply was lent from, when the backend connection said so (no lookup to give it back). */
  declare replySlab: Slab | null;
  declare readonly session: RouterSession;
  /** CommandSpec.id, for per-command metrics. */
  declare readonly cmdId: number;
  /** performance.now() at dispatch. */
  declare readonly t0: number;

  constructor(session: RouterSession, cmdId: number, t0: number) {
    this.reply = null;
    this.next = null;
    this.replyParts = null;
    this.epoch = 0;
    this.clientArgv = null;
    this.clientRaw = null;
    this.pushes = false;
    this.lendsReply = false;
    this.replySlab = null;
    this.session = session;
    this.cmdId = cmdId;
    this.t0 = t0;
  }
}

/** A routed request: `start()` sends it; `fail()` finishes it with an error without sending. */
export interface Startable {
  start(): void;
  fail(reply: Buffer): void;
}
