/**
 * The proxy's memory of Lua scripts, so that EVALSHA finds its script on whichever group its keys live.
 *
 * Redis keeps scripts per server: a script loaded on group A is unknown to group B, so after a slot moves
 * from A to B (or a group is added) EVALSHA would answer NOSCRIPT. The proxy keeps the body of every script
 * loaded through it (SCRIPT LOAD, EVAL, EVAL_RO), keyed by its SHA1, least recently used evicted beyond
 * `scripts.cacheSize` bytes, and remembers on which servers it loaded each one. Before an EVALSHA goes to a
 * server not known to have the script, the proxy sends `SCRIPT LOAD body` on the same connection, just
 * before it: both travel in order on one pipelined connection, so the client's order is kept and no
 * NOSCRIPT can come back. If a server lost its scripts behind the proxy's back (restart, SCRIPT FLUSH sent
 * to it directly), the NOSCRIPT reply is caught, the script loaded there and the EVALSHA sent again once
 * (see ScriptRequest).
 *
 * SCRIPT FLUSH through the proxy empties this cache too, so EVALSHA answers NOSCRIPT afterwards, like Redis.
 * The cache is per proxy process (each `redslot proxy` worker has its own): a script loaded only through
 * another proxy is unknown here. SCRIPT LOAD reaches every group of the moment anyway, and EVAL's first
 * sighting also loads it on every group (ClusterWide.scriptSeen), so only a group added later can lack a
 * script this process never saw. Conversely another proxy that still holds the body after a SCRIPT FLUSH
 * sent elsewhere loads it again on demand (its EVALSHA succeeds where Redis would answer NOSCRIPT).
 */
import { createHash } from 'node:crypto';

/** SHA1 of a script body as Redis names it: 40 lower-case hex digits. */
export function scriptSha(body: Buffer): string {
  return createHash('sha1').update(body).digest('hex');
}

/** The 40-character SHA argument of EVALSHA/SCRIPT EXISTS, lower-cased as Redis does; null if not 40 bytes. */
export function shaArg(arg: Buffer): string | null {
  return arg.length === 40 ? arg.toString('latin1').toLowerCase() : null;
}

export class ScriptCache {
  /** sha -> body; Map order is recency (oldest first). */
  private readonly bodies = new Map<string, Buffer>();
  private bytes = 0;
  /** Backend address -> shas loaded there through this proxy. */
  private readonly known = new Map<string, Set<string>>();

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.bodies.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /** Keeps `body` under `sha` (copied: the argument is a view of a client's read buffer). Returns true when new. */
  remember(sha: string, body: Buffer): boolean {
    const had = this.bodies.get(sha);
    if (had !== undefined) {
      this.bodies.delete(sha);
      this.bodies.set(sha, had);
      return false;
    }
    if (body.length > this.maxBytes) return true;
    this.bodies.set(sha, Buffer.from(body));
    this.bytes += body.length;
    for (const [old, b] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(old);
      this.bytes -= b.length;
      for (const set of this.known.values()) set.delete(old);
    }
    return true;
  }

  /** The body of `sha` (marks it recently used), or undefined. */
  body(sha: string): Buffer | undefined {
    const b = this.bodies.get(sha);
    if (b !== undefined) {
      this.bodies.delete(sha);
      this.bodies.set(sha, b);
    }
    return b;
  }

  has(sha: string): boolean {
    return this.bodies.has(sha);
  }

  isKnownOn(addr: string, sha: string): boolean {
    return this.known.get(addr)?.has(sha) === true;
  }

  markKnown(addr: string, sha: string): void {
    if (!this.bodies.has(sha)) return; // only cached scripts are worth tracking (bounds the sets)
    let set = this.known.get(addr);
    if (set === undefined) {
      set = new Set();
      this.known.set(addr, set);
    }
    set.add(sha);
  }

  /** `addr` answered NOSCRIPT for `sha`: it lost it. */
  forgetOn(addr: string, sha: string): void {
    this.known.get(addr)?.delete(sha);
  }

  /** SCRIPT FLUSH: every server's scripts are gone, and so are ours. */
  flush(): void {
    this.bodies.clear();
    this.known.clear();
    this.bytes = 0;
  }
}
