/**
 * Multi-key commands split by backend: ONE sub-request per master (not per key), each carrying that master's
 * keys in the client's order; the replies are merged in the client's key order (subclasses say how). When all
 * keys live on one master, the client's command is sent as is and its reply forwarded verbatim (a big one in
 * parts as it arrives, like a single key's). A part's big reply cut at a read's end is kept as its pieces when
 * the merge reads pieces (MGET), never concatenated.
 * If any sub-request fails, the client gets one error (the first failing part's, in part order).
 * Not atomic across masters, like Codis: docs/using.md says so.
 * The client's bytes (and the parts' replies) are lent views: given back as router/lending.ts says.
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import { encodeCommandInto } from '../../../shared/resp/encoder.js';
import { isError } from '../../../shared/resp/reply-reader.js';
import type { SlotRoute } from '../slot-table.js';
import { giveBackReplies, giveBackReply, lendReplyView, requestAnswered, requestFailed, type BytesHolder } from '../lending.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';
import type { Slab } from '../../util/lent-slabs.js';
import type { RequestSpans } from '../../../shared/resp/request-spans.js';

/** The keys of one master and, once in, its reply. */
export class Part implements BackendRequest {
  /** Its reply once in (when it came in pieces: the first, which starts it). */
  reply: Buffer | null = null;
  /**
   * Its reply's pieces when it came in parts (a big reply cut at a read's end, passed on as the reads' views
   * and never assembled: merged from them, `mergesPieces`); null otherwise.
   */
  pieces: Buffer[] | null = null;
  /** Indices into argv of this part's keys, in client order. */
  readonly keys: number[] = [];

  constructor(
    private readonly parent: FanoutRequest,
    readonly server: BackendServer,
  ) {}

  onReply(reply: Buffer): void {
    this.parent.partAnswered(this, reply);
  }

  takesParts(): boolean {
    return this.parent.partTakesParts();
  }

  onReplyPart(piece: Buffer, last: boolean): void {
    this.parent.partPiece(this, piece, last);
  }
}

export abstract class FanoutRequest extends ClientRequest implements Startable, BytesHolder {
  readonly parts: Part[] = [];
  private readonly routes: SlotRoute[] = [];
  /** Parts whose reply is still to come for the client's reply. */
  private left = 0;
  /** Sends made and not answered yet: the client's bytes are read by a backend write until 0. */
  private unanswered = 0;
  private started = false;
  private finished = false;
  /** The slab of the client's bytes when lent to this request alone (router/lending.ts handOver). */
  lentSlab: Slab | null = null;
  /** Its one part's reply is going to the client in parts, as it arrives (forwarded as is, like a single key's). */
  private streamed = false;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    /** The client's arguments; empty when the request came as offsets (startSpans). */
    protected readonly argv: Buffer[],
    private readonly raw: Buffer | undefined,
    /** Arguments in the client's command (name included). */
    protected readonly argc = argv.length,
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

  /**
   * Merges the parts' replies (all present, none an error) into the client's reply: one buffer, or (MGET of big
   * values, when the session takes replies in parts) the views of the parts' replies that make it, in order.
   */
  protected abstract merge(): Buffer | Buffer[];

  /** Whether merge() reads a part's reply from its pieces (Part.pieces: MGET); others get their parts' replies whole. */
  protected readonly mergesPieces: boolean = false;

  start(): void {
    const n = this.parts.length;
    this.left = n;
    this.started = true;
    const { db, id, proto } = this.session;
    // Counted before each send: a send that throws leaves its count, and the bytes lent for good.
    if (n === 1) {
      const part = this.parts[0]!;
      const conn = part.server.conn(db, id, proto);
      this.unanswered++;
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
      this.unanswered++;
      conn.sendSelected(part, this.argv, part.keys, this.stride, this.raw);
      if (conn.congested) conn.holdUntilDrained(this.session);
    }
  }

  /**
   * start() for a request given as its raw bytes and argument offsets (router.ts routeSpans; `spans` read now
   * only): a part's runs of adjacent keys are copied from the client's bytes as they are (OutputBatch.pushSpans).
   */
  startSpans(raw: Buffer, spans: RequestSpans): void {
    const n = this.parts.length;
    this.left = n;
    this.started = true;
    const { db, id, proto } = this.session;
    for (let i = 0; i < n; i++) {
      const part = this.parts[i]!;
      const conn = part.server.conn(db, id, proto);
      this.unanswered++;
      if (n === 1) conn.send(part, raw);
      else conn.sendSpans(part, raw, spans, part.keys, this.stride);
      if (conn.congested) conn.holdUntilDrained(this.session);
    }
  }

  /**
   * A part's big reply may come in parts: a lone part's goes on to the client as it arrives (its reply is the
   * client's), one of several is kept as its pieces when merge() reads them.
   */
  partTakesParts(): boolean {
    if (this.finished) return false;
    if (this.parts.length === 1) return this.session.takesParts !== undefined && this.session.takesParts(this);
    return this.mergesPieces;
  }

  /** A piece of `part`'s reply (after partTakesParts said yes), lent; `last`: it completes the reply. */
  partPiece(part: Part, piece: Buffer, last: boolean): void {
    if (!last) {
      if (this.finished) giveBackReply(piece); // failed meanwhile: nobody reads it
      else if (this.parts.length > 1) (part.pieces ??= []).push(piece);
      else {
        this.streamed = true;
        this.session.replyPart!(this, piece);
      }
      return;
    }
    this.unanswered--;
    if (this.finished) giveBackReply(piece);
    else if (this.parts.length === 1) {
      // The last part of a reply forwarded as is: no whole reply to look at (its first byte is data).
      part.reply = piece;
      this.finish(piece);
    } else {
      const pieces = part.pieces ?? [];
      pieces.push(piece);
      part.pieces = pieces;
      part.reply = pieces[0]!;
      if (--this.left === 0) this.answer();
    }
    if (this.unanswered === 0 && this.finished) requestAnswered(this);
  }

  partAnswered(part: Part, reply: Buffer): void {
    // A reply that broke off (the connection was lost) after some of it came: the pieces kept go back, and a
    // client that has part of it cannot be answered in-band (replyBroken), as a single key's streamed reply.
    if (part.pieces !== null) {
      giveBackReplies(part.pieces);
      part.pieces = null;
    }
    if (this.streamed && !this.finished) this.session.replyBroken!(this);
    this.unanswered--;
    if (this.finished) giveBackReply(reply); // failed meanwhile: nobody reads it
    else {
      part.reply = reply;
      if (--this.left === 0) this.answer();
    }
    if (this.unanswered === 0 && this.finished) requestAnswered(this);
  }

  /** The client's reply from the parts' (all in). */
  private answer(): void {
    for (const p of this.parts) if (isError(p.reply!)) return this.finish(p.reply!);
    if (this.parts.length === 1) return this.finish(this.parts[0]!.reply!);
    const merged = this.merge();
    if (!Array.isArray(merged)) return this.finish(merged);
    for (let i = 0; i < merged.length; i++) lendReplyView(merged[i]!); // each its own lend: the parts' replies go back in finish()
    const last = merged.pop()!;
    this.finish(last, merged);
  }

  /** Finished without every reply: its bytes may still be waiting to be written, so they are never given back. */
  fail(reply: Buffer): void {
    if (this.finished) return;
    if (this.streamed) this.session.replyBroken!(this); // part of the reply may have gone out
    // Nothing sent yet: the bytes may still be read by whatever failed (a migrate step, an exception's dispatch).
    if (!this.started) requestFailed(this);
    this.finish(reply);
    if (this.unanswered === 0) requestAnswered(this);
  }

  /** `leading`: views that go before `reply` (a merge into views), lent, as `reply` is. */
  private finish(reply: Buffer, leading?: Buffer[]): void {
    this.finished = true;
    for (const r of this.routes) r.done();
    // The parts' replies were merged into a reply of its own, or one of them is forwarded as it is.
    for (const p of this.parts) {
      const r = p.reply;
      if (r === null) continue;
      p.reply = null;
      const pieces = p.pieces;
      if (pieces !== null) {
        p.pieces = null;
        giveBackReplies(pieces); // merged: the views handed on are lent on their own
      } else if (r === reply) this.lendsReply = true;
      else giveBackReply(r);
    }
    if (leading !== undefined) {
      this.lendsReply = true;
      for (let i = 0; i < leading.length; i++) this.session.replyPart!(this, leading[i]!);
    }
    this.session.complete(this, reply);
  }
}
