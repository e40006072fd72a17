/**
 * Migrate-on-access (issue 5): while a slot is `migrating`, a command's keys are first moved from the source
 * master to the target with `MIGRATE host port "" db timeout [AUTH pw | AUTH2 user pw] KEYS k1..kn`
 * (sent on the session's connection to the source; +NOKEY = nothing there, fine), and only then is the
 * command sent to the target. The session holds its later requests meanwhile, so one client's commands run
 * in the order it sent them. If a MIGRATE fails, the command is not run and the client gets one error:
 * running it on the target while the key may still be on the source would lose or fork data.
 * No REPLACE: BUSYKEY means the key exists on both sides, an invariant violation someone must look at.
 */
import type { BackendRequest } from '../backend/connection.js';
import type { BackendServer } from '../backend/pool.js';
import { encodeCommandInto } from '../../shared/resp/encoder.js';
import { errorText, isError } from '../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../errors.js';
import type { RouterSession, Startable } from './requests/base.js';
import type { SlotRoute } from './slot-table.js';

export interface MigrateOptions {
  timeoutMs: number;
  /** Backend credentials, passed to MIGRATE so the source can log in to the target. */
  user: string;
  password: string;
}

interface Batch {
  source: BackendServer;
  target: BackendServer;
  slot: number;
  keys: Buffer[];
}

const EMPTY_KEY = Buffer.alloc(0);
const KEYS = Buffer.from('KEYS');

export class MigrateStep implements BackendRequest {
  private readonly batches: Batch[] = [];
  private left = 0;
  private error: Buffer | null = null;

  constructor(
    private readonly session: RouterSession,
    private readonly then: Startable,
    private readonly opts: MigrateOptions,
  ) {}

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /** Adds a key of a migrating slot (route.migrateFrom set). */
  add(route: SlotRoute, key: Buffer): void {
    const source = route.migrateFrom!;
    const target = route.server!;
    let b = this.batches.find((x) => x.source === source && x.target === target);
    if (b === undefined) {
      b = { source, target, slot: route.slot, keys: [] };
      this.batches.push(b);
    }
    b.keys.push(key);
  }

  start(): void {
    this.session.hold();
    this.left = this.batches.length;
    const { db, id } = this.session;
    for (const b of this.batches) {
      const args: Array<Buffer | string> = ['MIGRATE', b.target.host, String(b.target.port), EMPTY_KEY, String(db), String(this.opts.timeoutMs)];
      if (this.opts.password !== '') {
        if (this.opts.user !== '') args.push('AUTH2', this.opts.user, this.opts.password);
        else args.push('AUTH', this.opts.password);
      }
      args.push(KEYS, ...b.keys);
      const out: Buffer[] = [];
      const bytes = encodeCommandInto(args, out);
      b.source.conn(db, id).sendParts(this, out, bytes);
    }
  }

  onReply(reply: Buffer): void {
    if (this.error === null && isError(reply)) {
      const b = this.batches[0]!;
      this.error = errorReply(ProxyErrors.REDSLOT_ERR_MIGRATE_ON_ACCESS, {
        slot: b.slot,
        source: b.source.addr,
        target: b.target.addr,
        reason: errorText(reply),
      });
    }
    if (--this.left > 0) return;
    if (this.error !== null) this.then.fail(this.error);
    else this.then.start();
    this.session.resume();
  }
}
