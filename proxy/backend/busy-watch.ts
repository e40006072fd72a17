/**
 * Is a script running on a backend connection? A connection without a reply for BUSY_PROBE_AFTER_MS is
 * probed with a PING on a side connection: `-BUSY` means a script runs on it (Redis reads nothing more from
 * the connection running it): new requests then get that BUSY reply at once instead of queueing behind the
 * script, and the reply-timeout reset is held off (the server is alive; resetting would fail every request
 * queued behind the script and kill nothing).
 */
import { errorText, startsWith } from '../../shared/resp/reply-reader.js';
import type { BackendOptions, ConnectionOwner } from './connection-types.js';
import { sideCommand } from './side-command.js';

export const BUSY_PROBE_AFTER_MS = 1000;
const BUSY = Buffer.from('-BUSY');
const NO_ANSWER = Buffer.alloc(0);

export class BusyWatch {
  /** The server's BUSY reply while a script runs on the connection, else null. */
  reply: Buffer | null = null;
  private probe: { cancel(): void } | null = null;

  constructor(
    private readonly owner: ConnectionOwner,
    private readonly opts: BackendOptions,
    private readonly db: number,
  ) {}

  /** A probe is out or the connection is known busy: the next reply must clear it. */
  get active(): boolean {
    return this.reply !== null || this.probe !== null;
  }

  /** PING on a side connection, unless one is out or the answer is known; `pending` is for the log. */
  start(pending: () => number): void {
    if (this.probe !== null || this.reply !== null) return;
    const { user, password, replyTimeoutMs, dialTimeoutMs } = this.opts;
    const p = sideCommand(this.owner, ['PING'], { user, password, timeoutMs: Math.max(replyTimeoutMs, dialTimeoutMs), unavailable: NO_ANSWER });
    this.probe = p;
    void p.reply.then((reply) => {
      if (this.probe !== p) return;
      this.probe = null;
      if (startsWith(reply, BUSY)) {
        this.reply = reply;
        this.owner.log.warn('backend.busy', { backend: this.owner.addr, db: this.db, pending: pending(), reply: errorText(reply) });
      }
    });
  }

  /** A reply came (or the connection closed): no script runs on it any more. */
  clear(): void {
    if (this.reply !== null) this.owner.log.info('backend.not_busy', { backend: this.owner.addr, db: this.db });
    this.reply = null;
    this.probe?.cancel();
    this.probe = null;
  }
}
