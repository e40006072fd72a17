/**
 * A client request answered by a command (or a batch) on a dedicated connection: the client's session is
 * held from the moment it is sent until the reply is in, so its later commands (on shared connections) run
 * after it, in the order the client sent them. A batch producing N replies forwards only the last one
 * (MULTI ... EXEC: the EXEC reply) byte for byte.
 */
import type { BackendRequest } from '../backend/connection.js';
import type { DedicatedConnection } from '../backend/dedicated.js';
import { ClientRequest, type RouterSession, type Startable } from '../router/requests/base.js';
import type { SlotRoute } from '../router/slot-table.js';

/**
 * Told the final reply before the client gets it. `sent`: the payload went to the backend (false when
 * migrate-on-access failed first); `lost`: the connection broke, whatever state it had is gone.
 */
export type ConnDone = (reply: Buffer, sent: boolean, lost: boolean) => void;

export class ConnRequest extends ClientRequest implements BackendRequest, Startable {
  private left: number;
  private held = false;
  private finished = false;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    /** Counted in-flight on this route until answered (a topology change drains it), or null. */
    private readonly route: SlotRoute | null,
    private readonly conn: DedicatedConnection,
    private parts: Buffer[],
    private readonly bytes: number,
    private readonly replies: number,
    private readonly done: ConnDone,
  ) {
    super(session, cmdId, t0);
    this.left = replies;
    if (route !== null) route.inflight++;
  }

  start(): void {
    this.session.hold();
    this.held = true;
    const p = this.parts;
    this.parts = [];
    this.conn.sendParts(this, p, this.bytes, this.replies);
  }

  onReply(reply: Buffer): void {
    if (--this.left > 0) return;
    this.finish(reply, true, reply === this.conn.lostReply || reply === this.conn.unavailableReply);
  }

  /** Not sent (migrate-on-access failed): the client gets `reply`. */
  fail(reply: Buffer): void {
    this.parts = [];
    this.finish(reply, false, false);
  }

  private finish(reply: Buffer, sent: boolean, lost: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.route?.done();
    this.done(reply, sent, lost);
    this.session.complete(this, reply);
    if (this.held) this.session.resume();
  }
}
