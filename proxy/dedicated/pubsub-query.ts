/** PUBSUB CHANNELS | SHARDCHANNELS | NUMSUB | SHARDNUMSUB | NUMPAT | HELP over several masters, merged. */
import { encodeArray, encodeCommandInto, encodeInteger } from '../../shared/resp/encoder.js';
import { arrayElements, bulkValue, isError, readInteger } from '../../shared/resp/reply-reader.js';
import type { BackendRequest } from '../backend/connection.js';
import type { BackendServer } from '../backend/pool.js';
import { ClientRequest, type RouterSession } from '../router/requests/base.js';
import { encodeBulkOf } from './pubsub-frames.js';

/** One backend's share of a PUBSUB query. */
class QueryPart implements BackendRequest {
  reply: Buffer | null = null;

  constructor(
    private readonly q: PubSubQuery,
    /** For NUMSUB: indices into the client's argv of the channels asked here. */
    readonly argIdx: number[],
  ) {}

  onReply(reply: Buffer): void {
    this.reply = reply;
    this.q.partDone();
  }
}

/** PUBSUB over several masters, merged like one server would answer. */
export class PubSubQuery extends ClientRequest {
  private readonly parts: QueryPart[] = [];
  private readonly sends: Array<{ server: BackendServer; args: Buffer[]; part: QueryPart }> = [];
  private left = 0;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    private readonly sub: string,
    private readonly argv: Buffer[],
  ) {
    super(session, cmdId, t0);
  }

  add(server: BackendServer, args: Buffer[], argIdx: number[]): void {
    const part = new QueryPart(this, argIdx);
    this.parts.push(part);
    this.sends.push({ server, args, part });
  }

  start(): void {
    this.left = this.sends.length;
    if (this.left === 0) {
      this.session.complete(this, this.merge());
      return;
    }
    for (const { server, args, part } of this.sends) {
      const out: Buffer[] = [];
      const bytes = encodeCommandInto(args, out);
      server.conn(this.session.db, this.session.id).sendParts(part, out, bytes);
    }
  }

  partDone(): void {
    if (--this.left > 0) return;
    for (const p of this.parts) if (isError(p.reply!)) return this.session.complete(this, p.reply!);
    this.session.complete(this, this.merge());
  }

  private merge(): Buffer {
    const sub = this.sub;
    if (sub === 'help') return this.parts[0]!.reply!;
    if (sub === 'numpat') {
      let max = 0;
      for (const p of this.parts) max = Math.max(max, readInteger(p.reply!) || 0);
      return encodeInteger(max);
    }
    if (sub === 'numsub' || sub === 'shardnumsub') {
      const counts = new Map<number, Buffer>();
      for (const p of this.parts) {
        const els = arrayElements(p.reply!) ?? [];
        p.argIdx.forEach((argI, j) => counts.set(argI, els[2 * j + 1] ?? encodeInteger(0)));
      }
      const out: Buffer[] = [];
      for (let i = 2; i < this.argv.length; i++) {
        out.push(encodeBulkOf(this.argv[i]!), counts.get(i) ?? encodeInteger(0));
      }
      return encodeArray(out);
    }
    // channels / shardchannels: the union.
    const seen = new Set<string>();
    const out: Buffer[] = [];
    for (const p of this.parts) {
      for (const el of arrayElements(p.reply!) ?? []) {
        const v = bulkValue(el);
        if (!v) continue;
        const key = v.toString('latin1');
        if (!seen.has(key)) {
          seen.add(key);
          out.push(el);
        }
      }
    }
    return encodeArray(out);
  }
}

