/**
 * Multi-key commands split by backend: ONE sub-request per master (not per key), each carrying that master's
 * keys in the client's order; the replies are merged in the client's key order (subclasses say how). When all
 * keys live on one master, the client's command is sent as is and its reply forwarded verbatim.
 * If any sub-request fails, the client gets one error (the first failing part's, in part order).
 * Not atomic across masters, like Codis: docs/using.md says so.
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import { encodeCommandInto } from '../../../shared/resp/encoder.js';
import { isError } from '../../../shared/resp/reply-reader.js';
import type { SlotRoute } from '../slot-table.js';
import { returnFrame } from '../../util/lent-slabs.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';

/** The keys of one master and, once in, its reply. */
export class Part implements BackendRequest {
  reply: Buffer | null = null;
  /** Indices into argv of this part's keys, in client order. */
  readonly keys: number[] = [];

  constructor(
    private readonly parent: FanoutRequest,
    readonly server: BackendServer,
  ) {}

  onReply(reply: Buffer): void {
    this.reply = reply;
    this.parent.partDone();
  }
}

export abstract class FanoutRequest extends ClientRequest implements Startable {
  readonly parts: Part[] = [];
  private readonly routes: SlotRoute[] = [];
  private left = 0;
  private finished = false;
  /**
   * The client's request bytes when they are a lent view (a request carried over reads, proxy/session.ts):
   * given back once every part is answered (each backend has read its part, no write still reads them).
   */
  giveBack: Buffer | null = null;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    protected readonly argv: Buffer[],
    private readonly raw: Buffer | undefined,
  ) {
    super(session, cmdId, t0);
  }

  /** Adds key argv[keyIndex] of the slot served by `route`. */
  addKey(route: SlotRoute, keyIndex: number): void {
    route.inflight++;
    this.routes.push(route);
    const server = route.server!;
    let part: Part | undefined;
    for (let i = 0; i < this.parts.length; i++) {
      if (this.parts[i]!.server === server) {
        part = this.parts[i];
        break;
      }
    }
    if (part === undefined) {
      part = new Part(this, server);
      this.parts.push(part);
    }
    part.keys.push(keyIndex);
  }

  /**
   * Arguments per key in the command (MSET: key and value = 2; MGET, DEL, EXISTS...: 1). A part's sub-command is
   * argv[0] followed, for each of its keys, by the `stride` arguments starting at the key (encodeSelectedInto).
   */
  protected abstract readonly stride: number;

  /** Merges the parts' replies (all present, none an error) into the client's reply. */
  protected abstract merge(): Buffer;

  start(): void {
    const n = this.parts.length;
    this.left = n;
    const { db, id, proto } = this.session;
    if (n === 1) {
      const part = this.parts[0]!;
      const conn = part.server.conn(db, id, proto);
      if (this.raw !== undefined) conn.send(part, this.raw);
      // Every argument after the name is a key's (the request spanned reads): encoded straight into the batch.
      else if (1 + part.keys.length * this.stride === this.argv.length) conn.sendSelected(part, this.argv, part.keys, this.stride);
      else {
        const out: Buffer[] = [];
        conn.sendParts(part, out, encodeCommandInto(this.argv, out));
      }
      if (conn.congested) conn.holdUntilDrained(this.session);
      return;
    }
    for (let i = 0; i < n; i++) {
      const part = this.parts[i]!;
      const conn = part.server.conn(db, id, proto);
      conn.sendSelected(part, this.argv, part.keys, this.stride, this.raw);
      if (conn.congested) conn.holdUntilDrained(this.session);
    }
  }

  partDone(): void {
    if (--this.left > 0) return;
    let reply: Buffer | undefined;
    for (const p of this.parts) {
      if (isError(p.reply!)) {
        reply = p.reply!;
        break;
      }
    }
    if (reply === undefined) reply = this.parts.length === 1 ? this.parts[0]!.reply! : this.merge();
    this.finish(reply);
    const bytes = this.giveBack;
    if (bytes !== null) {
      this.giveBack = null;
      returnFrame(bytes);
    }
  }

  /** Finished without every reply: its bytes may still be waiting to be written, so they are never given back. */
  fail(reply: Buffer): void {
    this.giveBack = null;
    this.finish(reply);
  }

  private finish(reply: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    for (const r of this.routes) r.done();
    this.session.complete(this, reply);
  }
}
