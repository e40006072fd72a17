/**
 * A source mover's connections: one for SCAN, one per worker lane (the source serves other clients between two
 * lanes' commands instead of a pipelined series back to back), one for big keys, one for the load probe, one per
 * target. Counts the commands it runs on the source (inner script calls included, as Redis counts them) so the load
 * probe can tell the clients' commands from the mover's own.
 */
import { splitAddr, type RedisReply } from '../redis/admin.js';
import { RedisLink, type Arg } from '../redis/link.js';
import type { RedisEndpoint } from './mover-types.js';

export class MoverLinks {
  /** Commands sent to the source so far. */
  sourceCommands = 0;
  private scanConn: RedisLink | undefined;
  private probeConn: RedisLink | undefined;
  private bigConn: RedisLink | undefined;
  private readonly laneConns: RedisLink[] = [];
  private readonly targetConns = new Map<string, RedisLink>();

  constructor(
    readonly source: RedisEndpoint,
    /** Liveness timeout of every command (the source may be blocked that long by a big-key MIGRATE). */
    private readonly commandTimeoutMs: number,
  ) {}

  scan(): RedisLink {
    return (this.scanConn ??= this.open(this.source));
  }

  probe(): RedisLink {
    return (this.probeConn ??= this.open(this.source));
  }

  lane(n: number): RedisLink {
    return (this.laneConns[n] ??= this.open(this.source));
  }

  big(): RedisLink {
    return (this.bigConn ??= this.open(this.source));
  }

  target(ep: RedisEndpoint): RedisLink {
    let c = this.targetConns.get(ep.addr);
    if (!c) this.targetConns.set(ep.addr, (c = this.open(ep)));
    return c;
  }

  /** One command without a database (INFO). */
  call(conn: RedisLink, args: Arg[]): Promise<RedisReply> {
    if (conn.addr === this.source.addr) this.sourceCommands++;
    return conn.call(args);
  }

  /**
   * SELECT db and the command, written back to back on the same socket: the pair cannot be split by a
   * reconnect (a fresh connection is on db 0), so a command never runs in the wrong database.
   */
  async dbCall(conn: RedisLink, db: number, args: Arg[]): Promise<RedisReply> {
    if (conn.addr === this.source.addr) this.sourceCommands += 2 + (args[0] === 'EVAL' ? Number(args[2]) : 0);
    const sel = conn.call(['SELECT', db]);
    const res = conn.call(args);
    res.catch(() => undefined);
    const r = await sel;
    if (r instanceof Error) throw new Error(`SELECT ${db} on ${conn.addr}: ${r.message}`);
    return await res;
  }

  close(): void {
    this.scanConn?.close();
    this.probeConn?.close();
    for (const c of this.laneConns) c.close();
    this.bigConn?.close();
    for (const c of this.targetConns.values()) c.close();
    this.targetConns.clear();
  }

  private open(ep: RedisEndpoint): RedisLink {
    splitAddr(ep.addr);
    return new RedisLink({ addr: ep.addr, password: ep.password, username: ep.username, tls: ep.tls, commandTimeoutMs: this.commandTimeoutMs });
  }
}

export function replyError(r: RedisReply): string | undefined {
  return r instanceof Error ? r.message : undefined;
}

export function asNumbers(r: RedisReply, n: number): number[] | undefined {
  if (!Array.isArray(r) || r.length !== n) return undefined;
  return r.map((x) => (typeof x === 'number' ? x : Number(x)));
}
