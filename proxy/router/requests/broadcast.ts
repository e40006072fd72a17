/**
 * Cluster-wide commands: the same command (or a short fixed sequence, e.g. DBSIZE + RANDOMKEY) sent to
 * every group's master - or to one - on this client's connection to each, the replies merged into one by a
 * merge policy:
 *   sum      integer replies added (DBSIZE)
 *   allOk    +OK when every master said OK (FLUSHALL, FLUSHDB, CONFIG SET, FUNCTION DELETE/FLUSH/RESTORE)
 *   same     the first master's reply; every master answers the same (SCRIPT LOAD -> sha, FUNCTION LOAD -> name)
 *   and      arrays of 0/1 and-ed element by element (SCRIPT EXISTS)
 *   keys     arrays of keys concatenated (KEYS)
 *   weighted DBSIZE + RANDOMKEY per master, one master's key picked in proportion to its DBSIZE (RANDOMKEY)
 *   verbatim the single target's reply as is (commands sent to one master)
 * (SCRIPT KILL / FUNCTION KILL go over side connections instead: script-kill.ts.)
 * Any error reply wins: the client gets the first one in group order. Like the multi-key
 * fan-out, nothing is atomic across groups (FLUSHALL may have run on some masters when another fails).
 *
 * Order: each sub-request goes on this client's own connection to that master (of the client's RESP version),
 * so it runs after the client's earlier commands to that master and before its later ones. The merges read
 * RESP2 and RESP3 replies alike (arrays, integers, bulk strings, `_` nulls).
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import { encodeArray, encodeArrayHeader, encodeCommandInto, encodeInteger, Replies } from '../../../shared/resp/encoder.js';
import { arrayElements, bulkValue, isError, isSimple, readInteger } from '../../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../../errors.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';

/** A group's master. */
export interface Target {
  readonly group: number;
  readonly server: BackendServer;
}

/** An encoded command, ready to send to any number of connections. */
export interface Encoded {
  readonly parts: Buffer[];
  readonly bytes: number;
}

export function encodeOnce(args: ReadonlyArray<Buffer | string>): Encoded {
  const parts: Buffer[] = [];
  const bytes = encodeCommandInto(args, parts);
  return { parts, bytes };
}

/** One master's share: its replies to the commands, in order. */
export class BroadcastPart implements BackendRequest {
  readonly replies: Buffer[] = [];

  constructor(
    private readonly parent: BroadcastRequest,
    readonly target: Target,
    private readonly expected: number,
  ) {}

  onReply(reply: Buffer): void {
    if (this.parent.grew(reply.length)) return; // over guard.maxMergedReply: already answered, keep nothing
    this.replies.push(reply);
    if (this.replies.length === this.expected) this.parent.partDone();
  }

  /** The reply to the first (usually only) command. */
  get reply(): Buffer {
    return this.replies[0]!;
  }
}

/** Makes the client's reply from every part's replies (all present). */
export type Merge = (parts: readonly BroadcastPart[]) => Buffer;

export class BroadcastRequest extends ClientRequest implements Startable {
  readonly parts: BroadcastPart[];
  private left: number;
  private finished = false;
  /** Bytes of the replies in so far, and the most the merge may hold (0 = no limit). */
  private bytes = 0;
  private maxBytes = 0;
  private overReply: (() => Buffer) | null = null;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    targets: readonly Target[],
    private readonly commands: readonly Encoded[],
    private readonly merge: Merge,
    /** RESP version of the backend connections: the client's for replies forwarded as is (route `one`). */
    private readonly proto: 2 | 3 = 2,
    /** Called once when the request finished, before its reply is queued (FLUSH* releases its slot holds). */
    private readonly onFinish: (() => void) | null = null,
  ) {
    super(session, cmdId, t0);
    this.parts = targets.map((t) => new BroadcastPart(this, t, commands.length));
    this.left = this.parts.length;
  }

  start(): void {
    if (this.parts.length === 0) {
      this.finish(this.safeMerge());
      return;
    }
    const { db, id } = this.session;
    for (const part of this.parts) {
      const conn = part.target.server.conn(db, id, this.proto);
      for (const c of this.commands) conn.sendParts(part, c.parts, c.bytes);
    }
  }

  partDone(): void {
    if (--this.left > 0) return;
    this.finish(this.safeMerge());
  }

  fail(reply: Buffer): void {
    this.finish(reply);
  }

  /** Checks the merged reply as it grows: past maxBytes the client gets `reply` at once (guard.maxMergedReply). */
  limit(maxBytes: number, reply: () => Buffer): void {
    this.maxBytes = maxBytes;
    this.overReply = reply;
  }

  /** A part's reply of `n` bytes arrived; true once the merge is over its limit (the request is answered). */
  grew(n: number): boolean {
    if (this.finished) return true;
    this.bytes += n;
    if (this.maxBytes <= 0 || this.bytes <= this.maxBytes) return false;
    for (const p of this.parts) p.replies.length = 0;
    this.finish(this.overReply!());
    return true;
  }

  private safeMerge(): Buffer {
    try {
      return this.merge(this.parts);
    } catch (err) {
      return badReply('?', (err as Error).message);
    }
  }

  private finish(reply: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish?.();
    this.session.complete(this, reply);
  }
}

export function badReply(command: string, detail: string): Buffer {
  return errorReply(ProxyErrors.REDSLOT_ERR_BAD_BACKEND_REPLY, { command, detail });
}

/** The first error reply of any part, in group order. */
export function firstError(parts: readonly BroadcastPart[]): Buffer | undefined {
  for (const p of parts) for (const r of p.replies) if (isError(r)) return r;
  return undefined;
}

// ---- merge policies

export function sum(command: string): Merge {
  return (parts) => {
    const err = firstError(parts);
    if (err) return err;
    let n = 0;
    for (const p of parts) {
      const v = readInteger(p.reply);
      if (Number.isNaN(v)) return badReply(command, `group ${p.target.group} did not answer an integer`);
      n += v;
    }
    return encodeInteger(n);
  };
}

export function allOk(): Merge {
  return (parts) => firstError(parts) ?? Replies.ok;
}

export function same(): Merge {
  return (parts) => firstError(parts) ?? (parts.length > 0 ? parts[0]!.reply : Replies.nullBulk);
}

export function verbatim(): Merge {
  return (parts) => parts[0]!.reply;
}

/** Element-wise AND of 0/1 arrays; `orElse(i)` turns a 0 into 1 (a script the proxy can load itself). */
export function and(command: string, n: number, orElse: (i: number) => boolean): Merge {
  return (parts) => {
    const err = firstError(parts);
    if (err) return err;
    const acc = new Array<boolean>(n).fill(true);
    for (const p of parts) {
      const els = arrayElements(p.reply);
      if (!els || els.length !== n) return badReply(command, `group ${p.target.group} answered ${els?.length ?? 'no'} elements, expected ${n}`);
      for (let i = 0; i < n; i++) if (readInteger(els[i]!) !== 1) acc[i] = false;
    }
    return encodeArray(acc.map((v, i) => (v || orElse(i) ? Replies.one : Replies.zero)));
  };
}

/**
 * Arrays of bulk strings concatenated, in group order. `keep(key, part)` drops keys (a key on a group that
 * does not serve its slot); `dedupe` drops repeats (a key seen on both sides of a migrating slot).
 */
export function keys(command: string, keep: (key: Buffer, part: BroadcastPart) => boolean, dedupe: () => boolean): Merge {
  return (parts) => {
    const err = firstError(parts);
    if (err) return err;
    const out: Buffer[] = [];
    const seen = dedupe() ? new Set<string>() : null;
    for (const p of parts) {
      const els = arrayElements(p.reply);
      if (!els) return badReply(command, `group ${p.target.group} did not answer an array`);
      for (const el of els) {
        const k = bulkValue(el);
        if (!k || !keep(k, p)) continue;
        if (seen !== null) {
          const s = k.toString('latin1');
          if (seen.has(s)) continue;
          seen.add(s);
        }
        out.push(el);
      }
    }
    let total = 0;
    for (const el of out) total += el.length;
    return Buffer.concat([encodeArrayHeader(out.length), ...out], encodeArrayHeader(out.length).length + total);
  };
}

/** Parts sent [DBSIZE, RANDOMKEY]: picks a master in proportion to its DBSIZE and answers its key (`nil` if none). */
/**
 * `keep` (a split's purge running): a key the table does not place on the master that answered it is skipped;
 * parts then carry several RANDOMKEY replies after the DBSIZE and the first kept one is used.
 */
export function weighted(command: string, nil: Buffer = Replies.nullBulk, random: () => number = Math.random, keep?: (key: Buffer, part: BroadcastPart) => boolean): Merge {
  return (parts) => {
    const err = firstError(parts);
    if (err) return err;
    const sizes = parts.map((p) => readInteger(p.replies[0]!));
    if (sizes.some((n) => Number.isNaN(n))) return badReply(command, 'DBSIZE did not answer an integer');
    let total = 0;
    for (const n of sizes) total += n;
    if (total === 0) return nil;
    let pick = random() * total;
    let i = 0;
    for (; i < parts.length - 1; i++) {
      if (pick < sizes[i]!) break;
      pick -= sizes[i]!;
    }
    // The chosen master may have emptied meanwhile: fall back to any master that had a key.
    for (let j = 0; j < parts.length; j++) {
      const part = parts[(i + j) % parts.length]!;
      for (let k = 1; k < part.replies.length; k++) {
        const r = part.replies[k]!;
        const key = bulkValue(r);
        if (key && (keep === undefined || keep(key, part))) return r;
      }
    }
    return nil;
  };
}

/** True for `+OK`. */
export function isOk(reply: Buffer): boolean {
  return isSimple(reply, 'OK');
}
