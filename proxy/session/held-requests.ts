/**
 * A client's requests that wait, undispatched, so that its commands run in the order it sent them.
 *
 * The session is held while a request waits for a locked slot (the migration barrier; the request is
 * retried when the slot's route changes, or answered TRYAGAIN after guard.holdTimeout), while
 * migrate-on-access moves keys or a congested backend holds it (hold() / resume()), and while a request
 * waits for every earlier reply (WAIT_IDLE: it is about to use a dedicated connection). Later requests wait
 * here meanwhile; they count in the client's query buffer (guard.maxQueryBuffer), like Redis's unprocessed
 * input. Other clients are not affected.
 */
import type { Logger } from '../../shared/log.js';
import type { ProxyConfig } from '../config.js';
import type { ProxyMetrics } from '../metrics.js';
import { isDispatched, isWaitIdle, slotToWait, type DispatchResult, type Held } from '../router/dispatch-result.js';
import type { SlotRoute, SlotTable, SlotWaiter } from '../router/slot-table.js';
import { Fifo } from '../util/fifo.js';

/** What the held requests need from their session. */
export interface HoldingSession {
  readonly id: number;
  readonly remoteAddress: string;
  readonly isClosed: boolean;
  /** Dispatched requests whose reply is not written yet. */
  readonly inFlight: number;
  /** Runs one request now. */
  execute(argv: Buffer[], raw: Buffer | undefined): DispatchResult;
  /** Its hold timed out: answer the request TRYAGAIN without running it. */
  refuseHeld(argv: Buffer[]): void;
  /** Waiting requests were dispatched: reading may resume. */
  updateReading(): void;
}

export interface HeldRequestsEnv {
  readonly config: ProxyConfig;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly table: SlotTable;
}

interface Waiting {
  argv: Buffer[];
  raw: Buffer | undefined;
  /** Its size, counted in the client's query buffer while it waits (0 until it waits). */
  bytes: number;
}

function requestBytes(argv: Buffer[], raw: Buffer | undefined): number {
  if (raw !== undefined) return raw.length;
  let n = 0;
  for (const a of argv) n += a.length + 16;
  return n;
}

export class HeldRequests implements SlotWaiter {
  private readonly waiting = new Fifo<Waiting>(4);
  /** Bytes of the waiting requests. */
  bytes = 0;
  /** Slot the client waits for (-1 = none). */
  private heldSlot = -1;
  /** guard.holdTimeout for heldSlot. */
  private holdTimer: NodeJS.Timeout | null = null;
  /** The locked route this client's hold expired on: later requests for it get TRYAGAIN at once. */
  private expiredRoute: SlotRoute | null = null;
  /** Active hold() calls (migrate-on-access, congested backends). */
  private holds = 0;
  /** A request waits until every earlier reply is in (WAIT_IDLE). */
  private idleWait = false;
  private draining = false;

  constructor(
    private readonly session: HoldingSession,
    private readonly env: HeldRequestsEnv,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  /** Waiting for a locked slot. */
  get onSlot(): boolean {
    return this.heldSlot >= 0;
  }

  /** A new request must wait behind earlier ones instead of running now. */
  get blocking(): boolean {
    return this.heldSlot >= 0 || this.holds > 0 || this.waiting.length > 0 || this.idleWait;
  }

  /** Queues a request behind the waiting ones; false when that takes the query buffer over its limit. */
  add(argv: Buffer[], raw: Buffer | undefined): boolean {
    const bytes = requestBytes(argv, raw);
    this.waiting.push({ argv, raw, bytes });
    this.bytes += bytes;
    const limit = this.env.config.guard.maxQueryBufferBytes;
    return limit <= 0 || this.bytes <= limit;
  }

  /** The request just run has to wait (`held`): it goes in front of the later ones. */
  waitFor(held: Held, argv: Buffer[], raw: Buffer | undefined): void {
    this.holdFor(held, { argv, raw, bytes: 0 });
  }

  private holdFor(held: Held, w: Waiting): void {
    if (isWaitIdle(held)) {
      this.requeueFirst(w);
      // Runs again once every earlier reply is in (replyQueueEmpty()).
      if (this.session.inFlight === 0) throw new Error('WAIT_IDLE with an empty reply queue');
      this.idleWait = true;
      return;
    }
    const slot = slotToWait(held);
    if (this.expiredRoute !== null) {
      // This client already waited holdTimeout for this slot and it is still locked: answer at once, so a
      // pipeline of N requests for it costs one holdTimeout, not N.
      if (this.env.table.routes[slot] === this.expiredRoute) return this.refuse(w);
      this.expiredRoute = null;
    }
    this.requeueFirst(w);
    this.heldSlot = slot;
    this.env.table.wait(slot, this);
    const ms = this.env.config.guard.holdTimeoutMs;
    if (ms > 0) this.holdTimer = setTimeout(() => this.holdExpired(slot), ms);
  }

  private requeueFirst(w: Waiting): void {
    if (w.bytes === 0) w.bytes = requestBytes(w.argv, w.raw);
    this.waiting.unshift(w);
    this.bytes += w.bytes;
  }

  /** guard.holdTimeout passed and the slot is still locked: the held request gets TRYAGAIN, the rest go on. */
  private holdExpired(slot: number): void {
    this.holdTimer = null;
    if (this.session.isClosed || this.heldSlot !== slot) return;
    this.env.table.unwait(slot, this);
    this.heldSlot = -1;
    this.expiredRoute = this.env.table.routes[slot]!;
    const { id, remoteAddress: client } = this.session;
    this.env.log.info('session.hold_timeout', { id, client, slot, timeoutMs: this.env.config.guard.holdTimeoutMs });
    this.refuse(this.shift());
    this.drain();
  }

  private refuse(w: Waiting): void {
    this.env.metrics.guards.hold_timeout++;
    this.session.refuseHeld(w.argv);
  }

  private shift(): Waiting {
    const w = this.waiting.shift()!;
    this.bytes -= w.bytes;
    return w;
  }

  /** Drops every waiting request (QUIT, a protocol error, shutdown: nothing after them runs). */
  clear(): void {
    this.waiting.drain();
    this.bytes = 0;
  }

  /** Dispatches waiting requests in order until one has to wait again. */
  drain(): void {
    if (this.draining) return; // re-entered from a synchronous completion: the outer loop continues
    this.draining = true;
    try {
      while (this.waiting.length > 0 && this.heldSlot < 0 && this.holds === 0 && !this.idleWait) {
        const w = this.shift();
        const result = this.session.execute(w.argv, w.raw);
        if (!isDispatched(result)) this.holdFor(result, w);
      }
    } finally {
      this.draining = false;
    }
    this.session.updateReading();
  }

  /** SlotWaiter: the slot's route changed. */
  onSlotReady(): void {
    this.heldSlot = -1;
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (!this.session.isClosed) this.drain();
  }

  hold(): void {
    this.holds++;
  }

  resume(): void {
    if (--this.holds === 0 && !this.session.isClosed) this.drain();
  }

  /** Every reply is in: a request waiting for that (WAIT_IDLE) runs now. */
  replyQueueEmpty(): void {
    if (!this.idleWait) return;
    this.idleWait = false;
    if (!this.session.isClosed && this.holds === 0) queueMicrotask(() => this.drain());
  }

  /** The client is gone. */
  close(): void {
    if (this.heldSlot >= 0) this.env.table.unwait(this.heldSlot, this);
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.clear();
  }
}
