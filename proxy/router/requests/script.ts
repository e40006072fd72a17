/**
 * EVAL / EVALSHA / FCALL (and their _RO forms): routed like single-slot commands by their declared keys
 * (keyless: the group serving slot 0), plus what makes scripts independent of where the keys live now:
 *
 * - EVAL, EVAL_RO: the body is remembered under its SHA1 (proxy/scripts/cache.ts); once the master answered,
 *   the script is known to be loaded there.
 * - EVALSHA, EVALSHA_RO: if the proxy has the body and has not loaded it on this master yet, `SCRIPT LOAD body`
 *   goes first on the same connection, so the EVALSHA cannot meet NOSCRIPT and the client's order holds
 *   (both are pipelined on the one connection its commands to this master use). If NOSCRIPT comes back anyway
 *   (the master restarted or was flushed directly), the script is loaded and the EVALSHA sent again, once.
 * - FCALL, FCALL_RO: functions live in each master (FUNCTION LOAD through the proxy reaches every master of
 *   the moment). Before the first FCALL to a master that joined later (a group added, a master replaced), the
 *   libraries of the group serving slot 0 are copied to it (FUNCTION DUMP there, FUNCTION RESTORE ... REPLACE
 *   here) while this client's later commands wait (session hold, as migrate-on-access does), so its order
 *   holds. If a master answers "Function not found" anyway, the same copy is made and the FCALL sent again,
 *   once.
 * The retries after NOSCRIPT / "Function not found" happen only when a backend lost state behind the proxy's
 * back; commands the same client sent to that master after the script may then run before the retried one.
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import { encodeCommandInto } from '../../../shared/resp/encoder.js';
import { bulkValue, isError, startsWith } from '../../../shared/resp/reply-reader.js';
import { scriptSha, shaArg, type ScriptCache } from '../../scripts/cache.js';
import type { SlotRoute } from '../slot-table.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';

export const enum ScriptKind {
  Eval,
  EvalSha,
  Fcall,
}

export function scriptKind(name: string): ScriptKind {
  if (name === 'evalsha' || name === 'evalsha_ro') return ScriptKind.EvalSha;
  if (name === 'fcall' || name === 'fcall_ro') return ScriptKind.Fcall;
  return ScriptKind.Eval;
}

export interface ScriptEnv {
  readonly scripts: ScriptCache;
  /** A first sighting of an EVAL body: load it on every other master too (ClusterWide.scriptSeen). */
  scriptSeen(sha: string, body: Buffer, except: BackendServer, session: RouterSession): void;
  /** Where FCALL copies missing functions from (the master serving slot 0, else another), or null. */
  functionSource(except: BackendServer): BackendServer | null;
  /** The master joined after this proxy's first topology and has not received the functions yet. */
  functionsMissing(server: BackendServer): boolean;
  /** The functions were copied to `server`. */
  functionsCopied(server: BackendServer): void;
  /** The proxy loaded a script or functions on a master by itself (metrics). */
  countLoad(reason: 'ahead' | 'noscript' | 'functions'): void;
}

const NOSCRIPT = Buffer.from('-NOSCRIPT');
const NO_FUNCTION = Buffer.from('-ERR Function not found');

function encode(args: ReadonlyArray<Buffer | string>): { parts: Buffer[]; bytes: number } {
  const parts: Buffer[] = [];
  const bytes = encodeCommandInto(args, parts);
  return { parts, bytes };
}

/** SCRIPT LOAD sent ahead of an EVALSHA: marks the script known on success; its reply goes nowhere else. */
export class ScriptLoadStep implements BackendRequest {
  constructor(
    private readonly scripts: ScriptCache,
    private readonly addr: string,
    private readonly sha: string,
  ) {}

  onReply(reply: Buffer): void {
    if (!isError(reply)) this.scripts.markKnown(this.addr, this.sha);
  }
}

export class ScriptRequest extends ClientRequest implements BackendRequest, Startable {
  private retried = false;
  /** The "Function not found" reply, kept while the functions are copied for a retry. */
  private original: Buffer | null = null;
  private finished = false;
  /** EVAL's sha (computed at start) or EVALSHA's. */
  private sha: string | null = null;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    readonly route: SlotRoute,
    private readonly argv: Buffer[],
    private readonly payload: Buffer | Buffer[],
    private readonly bytes: number,
    private readonly kind: ScriptKind,
    private readonly env: ScriptEnv,
  ) {
    super(session, cmdId, t0);
    route.inflight++;
  }

  private get server(): BackendServer {
    return this.route.server!;
  }

  start(): void {
    const scripts = this.env.scripts;
    if (this.kind === ScriptKind.Eval) {
      const body = this.argv[1]!;
      this.sha = scriptSha(body);
      if (scripts.maxBytes > 0 && scripts.remember(this.sha, body)) this.env.scriptSeen(this.sha, body, this.server, this.session);
    } else if (this.kind === ScriptKind.EvalSha) {
      this.sha = shaArg(this.argv[1]!);
      if (this.sha !== null && !scripts.isKnownOn(this.server.addr, this.sha)) {
        const body = scripts.body(this.sha);
        if (body !== undefined) {
          this.loadFirst(body);
          this.env.countLoad('ahead');
        }
      }
    } else if (this.env.functionsMissing(this.server) && this.copyFunctions(true)) {
      return; // sent once the functions are there
    }
    this.send();
  }

  /** FUNCTION DUMP from the source; the reply restores here and sends the FCALL. False: no source. */
  private copyFunctions(hold: boolean): boolean {
    const source = this.env.functionSource(this.server);
    if (source === null) return false;
    if (hold) this.session.hold();
    const dump = encode(['FUNCTION', 'DUMP']);
    source.conn(this.session.db, this.session.id).sendParts(new FunctionCopy(this, hold), dump.parts, dump.bytes);
    return true;
  }

  private loadFirst(body: Buffer): void {
    const load = encode(['SCRIPT', 'LOAD', body]);
    this.conn().sendParts(new ScriptLoadStep(this.env.scripts, this.server.addr, this.sha!), load.parts, load.bytes);
  }

  private conn() {
    // The client's RESP version: the script's reply is forwarded as is (RESP3 types for a RESP3 client).
    return this.server.conn(this.session.db, this.session.id, this.session.proto);
  }

  private send(): void {
    const p = this.payload;
    if (Array.isArray(p)) this.conn().sendParts(this, p, this.bytes);
    else this.conn().send(this, p);
  }

  onReply(reply: Buffer): void {
    if (!this.retried) {
      if (this.kind === ScriptKind.EvalSha && this.sha !== null && startsWith(reply, NOSCRIPT)) {
        this.env.scripts.forgetOn(this.server.addr, this.sha);
        const body = this.env.scripts.body(this.sha);
        if (body !== undefined) {
          this.retried = true;
          this.loadFirst(body);
          this.env.countLoad('noscript');
          this.send();
          return;
        }
      } else if (this.kind === ScriptKind.Fcall && startsWith(reply, NO_FUNCTION)) {
        this.retried = true;
        this.original = Buffer.from(reply);
        if (this.copyFunctions(false)) return;
      }
    }
    if (this.kind === ScriptKind.Eval && this.sha !== null && !isError(reply)) this.env.scripts.markKnown(this.server.addr, this.sha);
    this.finish(reply);
  }

  /** FUNCTION DUMP of the source arrived (null: it failed): restore it here, then send the FCALL (again). */
  functionsDumped(payload: Buffer | null, held: boolean): void {
    if (payload === null && this.original !== null) {
      this.finish(this.original);
    } else {
      if (payload !== null) {
        this.env.countLoad('functions');
        const restore = encode(['FUNCTION', 'RESTORE', payload, 'REPLACE']);
        this.conn().sendParts(new FunctionsRestored(this.env, this.server), restore.parts, restore.bytes);
      }
      this.send();
    }
    if (held) this.session.resume();
  }

  fail(reply: Buffer): void {
    this.finish(reply);
  }

  finish(reply: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.route.done();
    this.session.complete(this, reply);
  }
}

/** FUNCTION DUMP's reply from the source master. */
class FunctionCopy implements BackendRequest {
  constructor(
    private readonly req: ScriptRequest,
    private readonly held: boolean,
  ) {}

  onReply(reply: Buffer): void {
    this.req.functionsDumped(bulkValue(reply) ?? null, this.held);
  }
}

/** FUNCTION RESTORE's reply: on success the master has the functions (the FCALL that follows tells the client). */
class FunctionsRestored implements BackendRequest {
  constructor(
    private readonly env: ScriptEnv,
    private readonly server: BackendServer,
  ) {}

  onReply(reply: Buffer): void {
    if (!isError(reply)) this.env.functionsCopied(this.server);
  }
}
