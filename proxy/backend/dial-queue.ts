/**
 * Requests accepted while a backend connection dials, and their bytes in the same order: nothing of a client
 * reaches the socket before the handshake (AUTH, SELECT) has succeeded; then they are written, or, when the
 * dial fails, answered with an error.
 */
import type { BackendRequest } from './connection-types.js';

export class DialQueue {
  private reqs: BackendRequest[] = [];
  private bufs: Buffer[] = [];
  /** Bytes queued: they count against the connection's output bound (held-sessions.ts). */
  bytes = 0;

  get length(): number {
    return this.reqs.length;
  }

  /** Queues a request made of `parts` (`bytes` long in all). */
  push(req: BackendRequest, parts: Buffer | readonly Buffer[], bytes: number): void {
    this.reqs.push(req);
    if (Buffer.isBuffer(parts)) this.bufs.push(parts);
    else for (const p of parts) this.bufs.push(p);
    this.bytes += bytes;
  }

  /** Empties the queue: its requests and their bytes, in order. */
  take(): { reqs: BackendRequest[]; bufs: Buffer[] } {
    const taken = { reqs: this.reqs, bufs: this.bufs };
    this.reqs = [];
    this.bufs = [];
    this.bytes = 0;
    return taken;
  }
}
