/**
 * Single-slot commands: every key is in one slot, so the whole command goes to that slot's master and the
 * reply is forwarded byte for byte. The payload is the client's own bytes when they arrived in one chunk.
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import type { SlotRoute } from '../slot-table.js';
import { giveBackReply, requestAnswered, requestFailed, type BytesHolder } from '../lending.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';
import type { Slab } from '../../util/lent-slabs.js';

export class SingleRequest extends ClientRequest implements BackendRequest, Startable, BytesHolder {
  // Declared and set in the constructor, not class fields (one per request: see ClientRequest).
  declare readonly route: SlotRoute;
  /** The encoded command: one buffer, or parts (big arguments not copied). */
  private declare payload: Buffer | Buffer[];
  private declare readonly bytes: number;
  /** Where to send it when not the route's master (a replica, for a READONLY client's read). */
  private declare readonly target: BackendServer | null;
  /** The slab of the client's bytes when lent to this request alone (router/lending.ts handOver). */
  declare lentSlab: Slab | null;
  /** Parts of its reply went to the session (a big reply, streamed). */
  private declare streamed: boolean;

  constructor(session: RouterSession, cmdId: number, t0: number, route: SlotRoute, payload: Buffer | Buffer[], bytes: number, target: BackendServer | null = null) {
    super(session, cmdId, t0);
    this.route = route;
    this.payload = payload;
    this.bytes = bytes;
    this.target = target;
    this.lentSlab = null;
    this.streamed = false;
    route.inflight++;
  }

  start(): void {
    const conn = (this.target ?? this.route.server!).conn(this.session.db, this.session.id, this.session.proto);
    const p = this.payload;
    this.payload = EMPTY;
    if (Array.isArray(p)) conn.sendParts(this, p, this.bytes);
    else conn.send(this, p);
    if (conn.congested) conn.holdUntilDrained(this.session);
  }

  takesParts(): boolean {
    return this.payload !== DONE && this.session.takesParts !== undefined && this.session.takesParts(this);
  }

  onReplyPart(part: Buffer, last: boolean): void {
    if (this.payload === DONE) return giveBackReply(part);
    if (last) return this.finish(part, null);
    this.streamed = true;
    this.session.replyPart!(this, part);
  }

  onReply(reply: Buffer, slab?: Slab | null): void {
    if (this.payload === DONE) return giveBackReply(reply); // already failed (an exception in its dispatch): in-flight released once
    if (this.streamed) this.session.replyBroken!(this); // an error after parts of the reply: the client is disconnected
    this.finish(reply, slab ?? null);
  }

  private finish(reply: Buffer, slab: Slab | null): void {
    this.payload = DONE;
    this.route.done();
    this.lendsReply = true; // a backend reply handed to nobody else (or a constant, which giving back ignores)
    this.replySlab = slab;
    this.session.complete(this, reply);
    requestAnswered(this);
  }

  fail(reply: Buffer): void {
    requestFailed(this);
    this.onReply(reply);
  }
}

const EMPTY = Buffer.alloc(0);
/** The payload once the request has its reply. */
const DONE = Buffer.alloc(0);
