/**
 * Backpressure of one backend connection: once its buffered output is over MAX_BACKEND_BUFFERED_BYTES (a
 * slow backend, or one slow to answer AUTH/SELECT), client sessions sending to it are held (they dispatch
 * nothing more) until its socket drains or closes.
 */
import { MAX_BACKEND_BUFFERED_BYTES, type Holdable } from './connection-types.js';

export class HeldSessions {
  /** Sessions held while congested; null = not congested. */
  private held: Set<Holdable> | null = null;
  /** Times the connection became congested (stats). */
  congestions = 0;

  /** The connection's output is over the bound: senders should hold (hold). */
  get congested(): boolean {
    return this.held !== null;
  }

  /** Congested from now on when `buffered` bytes are over the bound; true when this call made it so. */
  over(buffered: number): boolean {
    if (this.held !== null || buffered <= MAX_BACKEND_BUFFERED_BYTES) return false;
    this.held = new Set();
    this.congestions++;
    return true;
  }

  /** Holds `s` (it dispatches nothing more) until release. */
  hold(s: Holdable): void {
    if (this.held === null || this.held.has(s)) return;
    this.held.add(s);
    s.backendHold();
  }

  /** Drained or closed: every held session goes on. */
  release(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (const s of held) s.backendRelease();
  }
}
