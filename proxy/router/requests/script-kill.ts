/**
 * SCRIPT KILL / FUNCTION KILL: sent to every group's master over a side connection of its own
 * (proxy/backend/side-command.ts), never on the shared pipelined connections: the connection whose script
 * runs is not read by Redis until the script ends, so a kill queued behind it would never arrive.
 *
 * Reply as one Redis would give it: +OK when a master killed its script; else UNKILLABLE when one was
 * running a script that already wrote (only SHUTDOWN NOSAVE stops it); else the first other error
 * (NOTBUSY: no script running anywhere).
 */
import type { BackendServer } from '../../backend/pool.js';
import { sideCommand } from '../../backend/side-command.js';
import { isError, startsWith } from '../../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../../errors.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';

export interface KillOptions {
  user: string;
  password: string;
  timeoutMs: number;
}

const UNKILLABLE = Buffer.from('-UNKILLABLE');

export class ScriptKillRequest extends ClientRequest implements Startable {
  private finished = false;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    private readonly masters: readonly BackendServer[],
    /** ['SCRIPT', 'KILL'] or ['FUNCTION', 'KILL']. */
    private readonly argv: readonly Buffer[],
    private readonly opts: KillOptions,
  ) {
    super(session, cmdId, t0);
  }

  start(): void {
    const replies = this.masters.map((m) => {
      const unavailable = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_UNAVAILABLE, { addr: m.addr });
      return sideCommand(m, this.argv, { ...this.opts, unavailable }).reply;
    });
    void Promise.all(replies).then((r) => this.finish(mergeKill(r)));
  }

  fail(reply: Buffer): void {
    this.finish(reply);
  }

  private finish(reply: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.session.complete(this, reply);
  }
}

/** OK if any master killed a script; else UNKILLABLE if any; else the first error (NOTBUSY). */
export function mergeKill(replies: readonly Buffer[]): Buffer {
  const ok = replies.find((r) => !isError(r));
  if (ok !== undefined) return ok;
  return replies.find((r) => startsWith(r, UNKILLABLE)) ?? replies[0] ?? errorReply(ProxyErrors.REDSLOT_ERR_SLOT_NOT_SERVED);
}
