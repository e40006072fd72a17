/**
 * A client's ordered reply queue and the output waiting for the next write.
 *
 * Every dispatched request is an entry (head..tail, linked through ClientRequest.next); a reply completes its
 * entry, and settle() moves replies to the output from the head while the head has its reply, so one
 * arriving reply can release several queued ones. CLIENT REPLY OFF / SKIP mutes the entries enqueued while
 * it is on (Pub/Sub pushes are never muted, as in Redis). No allocation per request beyond the entry.
 * A big reply may come in parts (part(): backend.streamRepliesFrom), kept in order like whole ones.
 */
import { giveBackLentReply, giveBackReplies, giveBackSlabs, lentReplySlab } from '../router/lending.js';
import type { Slab } from '../util/lent-slabs.js';
import type { ClientRequest } from '../router/requests/base.js';

/** CLIENT REPLY ON / OFF / SKIP, as the CLIENT command sets it (proxy/local/client.ts). */
export interface ReplyMode {
  /** CLIENT REPLY OFF. */
  off: boolean;
  /** CLIENT REPLY SKIP: 1 = the next command's reply is dropped (the session moves it to 2 while it runs). */
  skip: number;
}

export class ReplyQueue implements ReplyMode {
  off = false;
  skip = 0;
  head: ClientRequest | null = null;
  private tail: ClientRequest | null = null;
  /** Entries in the queue (dispatched, reply not yet moved to the output). */
  queued = 0;
  /** Entries whose replies CLIENT REPLY OFF / SKIP drops; null while none. */
  private muted: Set<ClientRequest> | null = null;
  /** Replies ready to be written, in order, and their bytes. */
  out: Buffer[] = [];
  outBytes = 0;
  /**
   * The slabs of those of `out` that are lent backend reply views (ClientRequest.lendsReply), one per view, to
   * give back once written.
   */
  readonly lent: Slab[] = [];
  /** The entry whose reply is going out in parts (part()), until its last one settles it. */
  streaming: ClientRequest | null = null;

  /** The reply of the command running now is dropped (CLIENT REPLY OFF, or SKIP's command). */
  get muting(): boolean {
    return this.off || this.skip === 2;
  }

  enqueue(req: ClientRequest): void {
    if (this.muting && !req.pushes) (this.muted ??= new Set()).add(req);
    if (this.tail === null) this.head = req;
    else this.tail.next = req;
    this.tail = req;
    this.queued++;
  }

  /**
   * Sets `req`'s reply and moves every reply now at the head to the output (dropping them when `drop`: the
   * client is gone). Returns how many entries left the queue (0 when `req` waits behind earlier ones).
   */
  settle(req: ClientRequest, reply: Buffer, drop: boolean): number {
    req.reply = reply;
    if (req !== this.head) return 0;
    let r: ClientRequest | null = req;
    let n = 0;
    while (r !== null && r.reply !== null) {
      const parts = r.replyParts;
      if (!drop && !(this.muted !== null && this.muted.delete(r))) {
        if (parts !== null) this.outputParts(r); // parts kept while earlier replies were awaited go first
        this.out.push(r.reply);
        this.outBytes += r.reply.length;
        if (r.lendsReply) this.keepLent(r.reply, r.replySlab);
      } else {
        if (parts !== null) giveBackReplies(parts);
        if (r.lendsReply) giveBackLentReply(r.reply, r.replySlab); // dropped unwritten
      }
      r.replySlab = null;
      r.replyParts = null;
      r.reply = null;
      if (r === this.streaming) this.streaming = null;
      const next: ClientRequest | null = r.next;
      r.next = null;
      r = next;
      n++;
    }
    this.head = r;
    if (r === null) this.tail = null;
    // The new head's reply is coming in parts: those already here go out now.
    else if (r.replyParts !== null && !drop && !(this.muted !== null && this.muted.has(r))) this.outputParts(r);
    this.queued -= n;
    return n;
  }

  /**
   * A part of `req`'s reply (a lent backend reply view: a big reply is passed on as the pieces it arrived in,
   * never assembled): to the output now when every reply before it is there (it is the head), else kept on
   * `req` until it is (or until it settles, muted: then dropped). Its later replies wait behind it, as always,
   * until its last part settles it.
   */
  part(req: ClientRequest, part: Buffer): void {
    if (req !== this.head || (this.muted !== null && this.muted.has(req))) {
      (req.replyParts ??= []).push(part);
      return;
    }
    this.outputParts(req);
    this.output(part);
  }

  /**
   * `req`'s reply broke off (its connection was lost) after some parts: those not yet output are given back.
   * True when some went out already (the client has part of a reply: it cannot be answered in-band).
   */
  abandonParts(req: ClientRequest): boolean {
    const kept = req.replyParts;
    if (kept !== null) {
      req.replyParts = null;
      giveBackReplies(kept);
    }
    return req === this.streaming;
  }

  /** Whether `req`'s reply came (or is coming) in parts: its last part is no whole reply (metrics). */
  inParts(req: ClientRequest): boolean {
    return req === this.streaming || req.replyParts !== null;
  }

  /** `req` is the head: its reply goes on in parts from now on, those kept so far first. */
  private outputParts(req: ClientRequest): void {
    this.streaming = req;
    const kept = req.replyParts;
    if (kept === null) return;
    req.replyParts = null;
    for (let i = 0; i < kept.length; i++) this.output(kept[i]!);
  }

  private output(view: Buffer): void {
    this.out.push(view);
    this.outBytes += view.length;
    this.keepLent(view, null);
  }

  /** A lent view in the output: its slab is given back once written. */
  private keepLent(view: Buffer, slab: Slab | null): void {
    const s = lentReplySlab(view, slab);
    if (s !== null) this.lent.push(s);
  }

  /** A reply with nothing queued before it: straight to the output, unless muted. */
  direct(reply: Buffer): void {
    if (this.muting) return;
    this.out.push(reply);
    this.outBytes += reply.length;
  }

  /** Takes the output for one write (outBytes is its size until then). Then giveBack() or giveBackLater(). */
  takeOutput(): Buffer[] {
    const list = this.out;
    this.out = [];
    this.outBytes = 0;
    return list;
  }

  /** The output taken was fully handed to the kernel (or dropped): the lent views in it are given back (router/lending.ts). */
  giveBack(): void {
    giveBackSlabs(this.lent);
  }

  /** The output taken is still being written: a callback that gives its views back once that is done. */
  giveBackLater(): () => void {
    const lent = this.lent.slice();
    this.lent.length = 0;
    return () => giveBackSlabs(lent);
  }

  /** The entries enqueued by dispatch number `epoch` that have no reply yet. */
  unanswered(epoch: number): ClientRequest[] {
    const found: ClientRequest[] = [];
    for (let r = this.head; r !== null; r = r.next) if (r.epoch === epoch && r.reply === null) found.push(r);
    return found;
  }
}
