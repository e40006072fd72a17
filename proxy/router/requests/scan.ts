/**
 * SCAN over every group: the groups' masters are visited one after the other, in ascending group id, each
 * with its own SCAN; the client's cursor says which group and where in it.
 *
 * Cursor (an unsigned 64-bit integer, below 2^63 while the server cursor fits 32 bits; 0 = start / done):
 *
 *     cursor = serverCursor * 2^31 + epoch * 2^15 + phase * 2^14 + group
 *
 *   group         bits 0-13   id of the group being scanned (1..9999)
 *   phase         bit 14      0 = first pass over every group, 1 = rescan pass (only slots that moved)
 *   epoch         bits 15-30  when the scan started: Unix seconds mod 2^16
 *   serverCursor  bits 31-63  the cursor of that group's master's own SCAN (Redis's cursor is below its
 *                             hash table size: 2^33 buckets would take billions of keys on one master)
 *
 * Every key returned is checked against the slot table: a key on a master that neither serves its slot nor
 * is the source of its migrating slot is not shown (leftovers are invisible to GET too). TYPE, MATCH and
 * COUNT are passed to the masters as given.
 *
 * Guarantee. Without topology changes during the scan, every key is returned exactly once: each master is
 * scanned once with Redis's own guarantee, and keys do not move between masters. With changes (slots
 * reassigned, migrating, groups added or removed, a master replaced), every key that exists for the whole
 * scan is returned at least once, provided no slot moves twice during one scan (a rebalance moves each slot
 * once) and the scan lasts less than 18 hours (the epoch wraps). Argument:
 *   - The proxy knows when each slot's route last changed (SlotRoute.since, set by every topology change it
 *     applies; keys of a slot only move after every proxy acknowledged the slot's `migrating` step, so the
 *     change is seen here before any key of the slot moves).
 *   - A slot whose route did not change since the epoch and that is not migrating at the end of the first
 *     pass sat on one master for the whole first pass; that master existed the whole time and was scanned
 *     from cursor 0 to 0, so Redis returned the slot's keys.
 *   - Every other slot ("moved": changed since the epoch - 1 s, or migrating now) is covered by the rescan
 *     pass, which visits every master again in ascending id and returns only keys of moved slots (the set is
 *     recomputed at each call and only grows: a slot first moving during the rescan was covered by the first
 *     pass). A moved slot that is not migrating any more sits on its final master and, moving at most once,
 *     stays there. A slot still migrating forward (to a group with a higher id) is safe too: keys only go
 *     from its source to its target, the source is rescanned first, and a key that left it before being
 *     reached is on the target for the target's whole rescan. A slot migrating backward (to a lower id) is
 *     not: before starting the rescan the proxy waits (up to scan.settleTimeout, holding this SCAN's reply)
 *     until every slot migrating backward at that moment has finished.
 *   - A group added mid-scan with a lower id than the current one is never visited in the first pass, and
 *     a removed group's unvisited part is skipped: their keys belong to moved slots. A master replaced by
 *     failover gets a new route for each of its slots, so they are rescanned too.
 * With no slot moved the rescan pass is skipped and the scan ends after the first pass (exactly once).
 * Limits: if a backward migration stays unfinished past scan.settleTimeout (paused), its slot's keys that move
 * during the rescan can be missed; an aborted migration reverses direction (a second move); a proxy restarted mid-scan
 * only knows changes from its own start on (its first routes count as unchanged).
 */
import type { BackendRequest } from '../../backend/connection.js';
import type { BackendServer } from '../../backend/pool.js';
import { encodeArrayHeader, encodeBulk, encodeCommandInto } from '../../../shared/resp/encoder.js';
import { arrayElements, bulkValue, isError } from '../../../shared/resp/reply-reader.js';
import { slotOf } from '../../../shared/slot.js';
import type { SlotRoute, SlotTable } from '../slot-table.js';
import { ClientRequest, type RouterSession, type Startable } from './base.js';
import { badReply } from './broadcast.js';

const GROUP_BITS = 14n;
const GROUP_MASK = (1n << GROUP_BITS) - 1n;
const PHASE_SHIFT = 14n;
const EPOCH_SHIFT = 15n;
const EPOCH_MASK = 0xffffn;
const SERVER_SHIFT = 31n;
const MAX_CURSOR = (1n << 64n) - 1n;
const MAX_SERVER_CURSOR = MAX_CURSOR >> SERVER_SHIFT;

export interface ScanCursor {
  group: number;
  phase: 0 | 1;
  /** Unix seconds mod 2^16 when the scan started. */
  epoch: number;
  server: bigint;
}

export function encodeCursor(c: ScanCursor): string {
  return ((c.server << SERVER_SHIFT) | (BigInt(c.epoch) << EPOCH_SHIFT) | (BigInt(c.phase) << PHASE_SHIFT) | BigInt(c.group)).toString();
}

/** 'start' for 0, null when not an unsigned 64-bit decimal integer (Redis: invalid cursor). */
export function decodeCursor(arg: Buffer): ScanCursor | 'start' | null {
  if (arg.length === 0 || arg.length > 20) return null;
  for (const c of arg) if (c < 0x30 || c > 0x39) return null;
  const v = BigInt(arg.toString('latin1'));
  if (v > MAX_CURSOR) return null;
  if (v === 0n) return 'start';
  return {
    group: Number(v & GROUP_MASK),
    phase: Number((v >> PHASE_SHIFT) & 1n) as 0 | 1,
    epoch: Number((v >> EPOCH_SHIFT) & EPOCH_MASK),
    server: v >> SERVER_SHIFT,
  };
}

export function epochNow(now = Date.now()): number {
  return Math.floor(now / 1000) & 0xffff;
}

/** Date.now() value at or before the scan's start (1 s margin for rounding and clocks of other proxies). */
export function epochStartMs(epoch: number, now = Date.now()): number {
  const sec = Math.floor(now / 1000);
  const elapsed = (sec - epoch) & 0xffff;
  return (sec - elapsed - 1) * 1000;
}

/** The slot's keys may have moved since `sinceMs`: its route changed since, or it is migrating now. */
export function movedSince(r: SlotRoute, sinceMs: number): boolean {
  return r.since >= sinceMs || r.migrateFrom !== null || r.locked;
}

function migrating(r: SlotRoute): boolean {
  return r.migrateFrom !== null || r.locked;
}

export interface ScanEnv {
  readonly table: SlotTable;
  readonly settleTimeoutMs: number;
  countRescan(): void;
  countSettleWait(): void;
}

const SCAN = Buffer.from('SCAN');
const ZERO_CURSOR = encodeBulk('0');
const SETTLE_POLL_MS = 20;

export class ScanRequest extends ClientRequest implements BackendRequest, Startable {
  private server: BackendServer | null = null;
  private finished = false;

  constructor(
    session: RouterSession,
    cmdId: number,
    t0: number,
    private readonly env: ScanEnv,
    /** argv[2..]: MATCH / COUNT / TYPE, passed on. */
    private readonly options: Buffer[],
    private cursor: ScanCursor,
  ) {
    super(session, cmdId, t0);
  }

  start(): void {
    const masters = this.env.table.masters;
    // The group named by the cursor, or (gone) the next one by id, from its beginning.
    const i = masters.findIndex((m) => m.group >= this.cursor.group);
    if (i < 0) {
      this.endOfPass([]);
      return;
    }
    const m = masters[i]!;
    if (m.group !== this.cursor.group) this.cursor = { ...this.cursor, group: m.group, server: 0n };
    this.server = m.server;
    const out: Buffer[] = [];
    const bytes = encodeCommandInto([SCAN, this.cursor.server.toString(), ...this.options], out);
    // The client's own connection (and RESP version): the SCAN runs after its earlier commands to this master.
    m.server.conn(this.session.db, this.session.id, this.session.proto).sendParts(this, out, bytes);
  }

  fail(reply: Buffer): void {
    this.finish(reply);
  }

  onReply(reply: Buffer): void {
    if (isError(reply)) return this.finish(reply);
    const els = arrayElements(reply);
    const next = els && els.length === 2 ? bulkValue(els[0]!) : undefined;
    const keys = els && els.length === 2 ? arrayElements(els[1]!) : undefined;
    if (!next || !keys) return this.finish(badReply('scan', 'a master did not answer [cursor, keys]'));
    const server = this.server!;
    const routes = this.env.table.routes;
    const rescanSince = this.cursor.phase === 1 ? epochStartMs(this.cursor.epoch) : 0;
    const kept: Buffer[] = [];
    for (const el of keys) {
      const k = bulkValue(el);
      if (!k) continue;
      const r = routes[slotOf(k)]!;
      if (r.server !== server && r.migrateFrom !== server) continue;
      if (this.cursor.phase === 1 && !movedSince(r, rescanSince)) continue;
      kept.push(el);
    }
    const serverNext = BigInt(next.toString('latin1'));
    if (serverNext > MAX_SERVER_CURSOR) return this.finish(badReply('scan', `a master's cursor ${serverNext} does not fit 33 bits`));
    if (serverNext !== 0n) {
      this.respond({ ...this.cursor, server: serverNext }, kept);
      return;
    }
    const after = this.env.table.masters.find((m) => m.group > this.cursor.group);
    if (after !== undefined) {
      this.respond({ ...this.cursor, group: after.group, server: 0n }, kept);
      return;
    }
    this.endOfPass(kept);
  }

  /** The last master of a pass is done: finish, or wait for migrations to settle and start the rescan pass. */
  private endOfPass(kept: Buffer[]): void {
    const masters = this.env.table.masters;
    if (this.cursor.phase === 1 || masters.length === 0) return this.respond(null, kept);
    const since = epochStartMs(this.cursor.epoch);
    const routes = this.env.table.routes;
    if (!routes.some((r) => movedSince(r, since))) return this.respond(null, kept);
    const waitFor = routes.filter((r) => this.backward(r)).map((r) => r.slot);
    const deadline = Date.now() + this.env.settleTimeoutMs;
    this.env.countRescan();
    if (waitFor.length > 0) this.env.countSettleWait();
    const check = () => {
      const t = this.env.table.routes;
      if (waitFor.some((s) => this.backward(t[s]!)) && Date.now() < deadline) {
        setTimeout(check, SETTLE_POLL_MS);
        return;
      }
      const first = this.env.table.masters[0];
      this.respond(first === undefined ? null : { group: first.group, phase: 1, epoch: this.cursor.epoch, server: 0n }, kept);
    };
    check();
  }

  /** Migrating to a group the rescan visits before the source (or the source is unknown). */
  private backward(r: SlotRoute): boolean {
    if (!migrating(r)) return false;
    const source = this.env.table.masters.find((m) => m.server === r.migrateFrom);
    return source === undefined || r.group < source.group;
  }

  private respond(next: ScanCursor | null, kept: Buffer[]): void {
    const cursor = next === null ? ZERO_CURSOR : encodeBulk(encodeCursor(next));
    const header = encodeArrayHeader(kept.length);
    let total = 4 + cursor.length + header.length;
    for (const k of kept) total += k.length;
    this.finish(Buffer.concat([ARRAY2, cursor, header, ...kept], total));
  }

  private finish(reply: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.session.complete(this, reply);
  }
}

const ARRAY2 = Buffer.from('*2\r\n');

/** Starts a scan: cursor 0 -> the first group, now as epoch. */
export function startCursor(table: SlotTable): ScanCursor | null {
  const first = table.masters[0];
  return first === undefined ? null : { group: first.group, phase: 0, epoch: epochNow(), server: 0n };
}
