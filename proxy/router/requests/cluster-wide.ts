/**
 * The router's side of cluster-wide commands (route shapes `all`, `one`, `scan`, `script`): which masters a
 * command goes to, what is sent, and how the replies are merged (policies in broadcast.ts). Also what the
 * script requests need from the rest of the proxy: the script cache, where to copy functions from.
 *
 * Targets: every group with a master (SlotTable.masters, by ascending id), including groups without slots
 * (so FUNCTION LOAD and SCRIPT LOAD reach a group before a rebalance gives it slots). `one` and keyless
 * scripts go to the master serving slot 0 (the first master if slot 0 is offline).
 *
 * commands.refuseDangerous refuses FLUSHDB, FLUSHALL, KEYS and CONFIG SET/RESETSTAT/REWRITE here, before
 * anything is sent.
 *
 * KEYS and SCAN hide keys lying on a master that neither serves nor migrates their slot (GET cannot see
 * them either), and so does RANDOMKEY while a split's purge runs; DBSIZE and INFO keyspace count what the
 * masters hold, leftovers (and keys a split has not purged yet) included. A split's target still replicating
 * its source is not among the masters at all (SlotTable.masters). None of these is a
 * snapshot across groups: each master answers at its own moment.
 */
import type { BackendServer } from '../../backend/pool.js';
import { encodeBulk, Replies } from '../../../shared/resp/encoder.js';
import { bulkValue, isError } from '../../../shared/resp/reply-reader.js';
import { slotOf } from '../../../shared/slot.js';
import { deniedConfigSet, filterConfigGet } from '../../commands/config-guard.js';
import type { CommandSpec } from '../../commands/lookup.js';
import type { ProxyConfig } from '../../config.js';
import { errorReply, ProxyErrors } from '../../errors.js';
import type { ProxyFacts } from '../../local/context.js';
import type { ProxyMetrics } from '../../metrics.js';
import { groupSections, mergeGroupInfo, parseInfo, renderInfo, requestedSections, type InfoText } from '../../local/info.js';
import { shaArg, type ScriptCache } from '../../scripts/cache.js';
import type { SlotRoute, SlotTable } from '../slot-table.js';
import type { RouterSession } from './base.js';
import * as merge from './broadcast.js';
import { BroadcastRequest, encodeOnce, type BroadcastPart, type Encoded, type Merge, type Target } from './broadcast.js';
import { FLUSH_COMMANDS, holdAllRoutes, movingSlots } from './flush-guard.js';
import { decodeCursor, ScanRequest, startCursor, type ScanEnv } from './scan.js';
import { ScriptLoadStep, ScriptRequest, scriptKind, type ScriptEnv } from './script.js';
import { ScriptKillRequest } from './script-kill.js';

export interface ClusterWideEnv {
  readonly table: SlotTable;
  readonly config: ProxyConfig;
  readonly facts: ProxyFacts;
  readonly scripts: ScriptCache;
  /** Counters of script loads and SCAN rescans (absent in unit tests). */
  readonly metrics?: ProxyMetrics;
}

/** The session API these requests need (RoutedSession without importing router.ts). */
export interface WideSession extends RouterSession {
  reply(reply: Buffer, cmdId: number, t0: number): void;
}

const DANGEROUS: Record<string, string> = {
  flushall: 'deletes every key of every group',
  flushdb: 'deletes every key of every group',
  keys: 'lists every key of every group, blocking each master while it walks its keyspace',
  'config|set': "changes every group's configuration",
  'config|resetstat': "resets every group's statistics",
  'config|rewrite': "rewrites every group's configuration file",
};

const INVALID_CURSOR = errorReply(ProxyErrors.REDSLOT_ERR_INVALID_CURSOR);
const RESP3_NULL = Buffer.from('_\r\n');

/** A bulk string's content, or a RESP3 verbatim string's (`=N\r\ntxt:...`) without its format prefix. */
function textValue(frame: Buffer): Buffer | undefined {
  if (frame[0] === 0x3d) {
    const v = bulkValue(Buffer.concat([Buffer.from('$'), frame.subarray(1)]));
    return v ? v.subarray(4) : undefined;
  }
  return bulkValue(frame) ?? undefined;
}
/** RANDOMKEY replies asked of each master while a split's purge runs (a leftover key is skipped). */
const PURGE_RANDOMKEY_TRIES = 8;
const EMPTY_SCAN = Buffer.concat([Buffer.from('*2\r\n'), encodeBulk('0'), Replies.emptyArray]);

interface Plan {
  commands: Encoded[];
  merge: Merge;
  /** Default: every master. */
  targets?: readonly Target[];
}

export class ClusterWide implements ScriptEnv, ScanEnv {
  readonly table: SlotTable;
  readonly scripts: ScriptCache;
  readonly settleTimeoutMs: number;
  private readonly refusals = new Map<string, Buffer>();
  /** Masters that joined later and got the functions since (FUNCTION LOAD & co, or a copy before FCALL). */
  private readonly functionsSynced = new Set<string>();

  constructor(private readonly env: ClusterWideEnv) {
    this.table = env.table;
    this.scripts = env.scripts;
    this.settleTimeoutMs = env.config.scan.settleTimeoutMs;
  }

  /** The master `one` commands and keyless scripts use: the one serving slot 0, else the first. */
  reference(): BackendServer | null {
    return this.table.routes[0]!.server ?? this.table.masters[0]?.server ?? null;
  }

  /** Route shape `all`: every master, replies merged. */
  all(s: WideSession, spec: CommandSpec, argv: Buffer[], t0: number): void {
    if (this.env.config.commands.refuseDangerous && DANGEROUS[spec.name] !== undefined) {
      let r = this.refusals.get(spec.name);
      if (r === undefined) {
        r = errorReply(ProxyErrors.REDSLOT_ERR_DANGEROUS_REFUSED, { name: spec.name.replace('|', ' '), why: DANGEROUS[spec.name]! });
        this.refusals.set(spec.name, r);
      }
      s.reply(r, spec.id, t0);
      return;
    }
    if (spec.name === 'config|set') {
      const denied = deniedConfigSet(argv);
      if (denied !== null) {
        if (this.env.metrics) this.env.metrics.guards.config_denied++;
        s.reply(errorReply(ProxyErrors.REDSLOT_ERR_CONFIG_DENIED, denied), spec.id, t0);
        return;
      }
    }
    if (spec.name === 'script|kill' || spec.name === 'function|kill') {
      // Over side connections: the connection running the script is not read until the script ends.
      if (this.env.metrics) this.env.metrics.guards.script_kill++;
      const b = this.env.config.backend;
      const masters = this.table.masters.map((m) => m.server);
      const req = new ScriptKillRequest(s, spec.id, t0, masters, argv, { user: b.user, password: b.password, timeoutMs: Math.max(b.dialTimeoutMs, b.replyTimeoutMs) });
      s.enqueue(req);
      req.start();
      return;
    }
    let release: (() => void) | null = null;
    if (FLUSH_COMMANDS.has(spec.name)) {
      const moving = movingSlots(this.table);
      if (moving > 0) {
        s.reply(errorReply(ProxyErrors.REDSLOT_ERR_FLUSH_DURING_MIGRATION, { name: spec.name.toUpperCase(), slots: moving }), spec.id, t0);
        return;
      }
      release = holdAllRoutes(this.table); // see flush-guard.ts: orders the flush before any key movement
    }
    const plan = this.plan(spec, argv, s.proto);
    const req = new BroadcastRequest(s, spec.id, t0, plan.targets ?? this.table.masters, plan.commands, plan.merge, s.proto, release);
    const maxBytes = this.env.config.guard.maxMergedReplyBytes;
    if (maxBytes > 0) req.limit(maxBytes, this.mergedTooBig(spec, maxBytes));
    s.enqueue(req);
    req.start();
  }

  /** The client's error for a merged reply over guard.maxMergedReply (counted). */
  private mergedTooBig(spec: CommandSpec, limit: number): () => Buffer {
    return () => {
      if (this.env.metrics) this.env.metrics.guards.merged_reply++;
      return errorReply(ProxyErrors.REDSLOT_ERR_MERGED_REPLY_TOO_BIG, { command: spec.name.replace('|', ' '), limit });
    };
  }

  /** Route shape `one`: the reference master, reply forwarded as is. */
  one(s: WideSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): void {
    const server = this.reference();
    if (server === null) {
      s.reply(errorReply(ProxyErrors.REDSLOT_ERR_SLOT_NOT_SERVED), spec.id, t0);
      return;
    }
    const cmd = raw !== undefined ? { parts: [raw], bytes: raw.length } : encodeOnce(argv);
    // CONFIG GET: the backends' secrets, paths and network settings are left out (commands/config-guard.ts).
    const m: Merge = spec.name === 'config|get' ? (parts) => filterConfigGet(parts[0]!.reply) : merge.verbatim();
    const req = new BroadcastRequest(s, spec.id, t0, [{ group: 0, server }], [cmd], m, s.proto);
    s.enqueue(req);
    req.start();
  }

  /** Route shape `scan`. */
  scan(s: WideSession, spec: CommandSpec, argv: Buffer[], t0: number): void {
    const c = decodeCursor(argv[1]!);
    if (c === null) {
      s.reply(INVALID_CURSOR, spec.id, t0);
      return;
    }
    const cursor = c === 'start' ? startCursor(this.table) : c;
    if (cursor === null) {
      s.reply(EMPTY_SCAN, spec.id, t0);
      return;
    }
    const req = new ScanRequest(s, spec.id, t0, this, argv.slice(2), cursor);
    s.enqueue(req);
    req.start();
  }

  /** Route shape `script`: the request object for the router's single-slot path. */
  scriptRequest(s: RouterSession, spec: CommandSpec, t0: number, route: SlotRoute, argv: Buffer[], payload: Buffer | Buffer[], bytes: number): ScriptRequest {
    return new ScriptRequest(s, spec.id, t0, route, argv, payload, bytes, scriptKind(spec.name), this);
  }

  // ---- ScriptEnv

  scriptSeen(sha: string, body: Buffer, except: BackendServer, session: RouterSession): void {
    // Loaded on every other master too, so EVALSHA through any proxy finds it after slots move.
    const load = encodeOnce(['SCRIPT', 'LOAD', body]);
    for (const m of this.table.masters) {
      if (m.server === except) continue;
      m.server.conn(session.db, session.id).sendParts(new ScriptLoadStep(this.scripts, m.server.addr, sha), load.parts, load.bytes);
    }
  }

  functionSource(except: BackendServer): BackendServer | null {
    const ref = this.reference();
    if (ref !== null && ref !== except && !this.functionsMissing(ref)) return ref;
    return this.table.masters.find((m) => m.server !== except && !this.functionsMissing(m.server))?.server ?? null;
  }

  functionsMissing(server: BackendServer): boolean {
    if (this.functionsSynced.has(server.addr)) return false;
    const m = this.table.masters.find((x) => x.server === server);
    return m !== undefined && m.since > 0;
  }

  functionsCopied(server: BackendServer): void {
    this.functionsSynced.add(server.addr);
  }

  countLoad(reason: 'ahead' | 'noscript' | 'functions'): void {
    if (this.env.metrics) this.env.metrics.scriptLoads[reason]++;
  }

  // ---- ScanEnv

  countRescan(): void {
    if (this.env.metrics) this.env.metrics.scanRescans++;
  }

  countSettleWait(): void {
    if (this.env.metrics) this.env.metrics.scanSettleWaits++;
  }

  // ---- plans

  private plan(spec: CommandSpec, argv: Buffer[], proto: 2 | 3): Plan {
    const name = spec.name;
    const cmd = (): Encoded[] => [encodeOnce(argv)];
    switch (name) {
      case 'dbsize':
        return { commands: cmd(), merge: merge.sum(name) };
      case 'randomkey': {
        const nil = proto === 3 ? RESP3_NULL : Replies.nullBulk;
        if (!this.table.purging) return { commands: [encodeOnce(['DBSIZE']), encodeOnce(['RANDOMKEY'])], merge: merge.weighted(name, nil) };
        // A split's purge leaves keys of slots a master does not own: a few tries each, only served keys kept.
        const tries = Array.from({ length: PURGE_RANDOMKEY_TRIES }, () => encodeOnce(['RANDOMKEY']));
        return { commands: [encodeOnce(['DBSIZE']), ...tries], merge: merge.weighted(name, nil, Math.random, (k, p) => this.serves(k, p.target.server)) };
      }
      case 'keys':
        return { commands: cmd(), merge: merge.keys(name, (k, p) => this.serves(k, p.target.server), () => this.anyMigrating()) };
      case 'info':
        return this.infoPlan(argv);
      case 'script|load':
        return this.scriptLoadPlan(argv);
      case 'script|exists': {
        const shas = argv.slice(2).map(shaArg);
        return { commands: cmd(), merge: merge.and(name, shas.length, (i) => shas[i] !== null && this.scripts.has(shas[i]!)) };
      }
      case 'script|flush':
        this.scripts.flush();
        return { commands: cmd(), merge: merge.allOk() };
      case 'function|load':
        this.markFunctionsSynced();
        return { commands: cmd(), merge: merge.same() };
      case 'function|delete':
      case 'function|flush':
      case 'function|restore':
        this.markFunctionsSynced();
        return { commands: cmd(), merge: merge.allOk() };
      default:
        // FLUSHALL, FLUSHDB, CONFIG SET/RESETSTAT/REWRITE.
        return { commands: cmd(), merge: merge.allOk() };
    }
  }

  private scriptLoadPlan(argv: Buffer[]): Plan {
    const body = argv[2]!;
    return {
      commands: [encodeOnce(argv)],
      merge: (parts) => {
        const r = merge.same()(parts);
        const sha = bulkValue(r);
        if (sha) {
          const hex = sha.toString('latin1');
          if (this.scripts.maxBytes > 0) this.scripts.remember(hex, body);
          for (const p of parts) if (!isError(p.reply)) this.scripts.markKnown(p.target.server.addr, hex);
        }
        return r;
      },
    };
  }

  private infoPlan(argv: Buffer[]): Plan {
    const sections = requestedSections(argv);
    const asked = groupSections(sections);
    const facts = this.env.facts;
    if (asked.length === 0) return { commands: [], targets: [], merge: () => renderInfo(facts, sections) };
    return {
      commands: [encodeOnce(['INFO', ...asked])],
      merge: (parts: readonly BroadcastPart[]) => {
        const texts: InfoText[] = [];
        for (const p of parts) {
          const v = textValue(p.reply);
          if (v) texts.push(parseInfo(v.toString('utf8')));
        }
        return renderInfo(facts, sections, { merged: mergeGroupInfo(texts), answered: texts.length, total: parts.length });
      },
    };
  }

  /** Every master of the moment gets the same FUNCTION change: they agree from now on. */
  private markFunctionsSynced(): void {
    for (const m of this.table.masters) this.functionsSynced.add(m.server.addr);
  }

  /** The key's slot is served by `server` (or migrating away from it). */
  private serves(key: Buffer, server: BackendServer): boolean {
    const r = this.table.routes[slotOf(key)]!;
    return r.server === server || r.migrateFrom === server;
  }

  private anyMigrating(): boolean {
    for (const r of this.table.routes) if (r.migrateFrom !== null) return true;
    return false;
  }
}
