/**
 * What the dedicated-connection features (transactions, blocking commands, Pub/Sub) need from a client
 * session (DedicatedSession, which the Session implements) and from the proxy (DedicatedHost, which
 * Dedicated in index.ts implements). The features depend on this file, never on each other or on index.ts.
 * Nothing here runs on the normal (shared-connection) path.
 */
import type { Logger } from '../../shared/log.js';
import type { DedicatedPool } from '../backend/dedicated.js';
import type { BackendServer } from '../backend/pool.js';
import { resolveSubcommand, type CommandSpec } from '../commands/lookup.js';
import type { ClientListExtras } from '../local/context.js';
import type { GuardEvent } from '../metrics.js';
import type { WaitSlot } from '../router/dispatch-result.js';
import type { MigrateOptions } from '../router/migrate-on-access.js';
import type { RoutedSession, Router } from '../router/router.js';
import type { SlotRoute, SlotTable } from '../router/slot-table.js';
import type { PubSubState } from './pubsub-state.js';
import type { Transaction } from './transaction-state.js';

/** session.mode bits: while non-zero, every request goes through Dedicated.intercept() first. */
export const MODE_MULTI = 1;
/** RESP2 with subscriptions: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET are allowed. */
export const MODE_PUBSUB_RESP2 = 2;

/** Byte limits of the dedicated paths (config guard.*). */
export interface DedicatedLimits {
  /** Bytes of commands queued after MULTI (0 = no limit). */
  maxMultiBytes: number;
  onGuard?: (event: GuardEvent) => void;
}

/** What the features use of the proxy: tables, pools, and the checks every dedicated command makes. */
export interface DedicatedHost {
  readonly table: SlotTable;
  readonly router: Router;
  readonly pool: DedicatedPool;
  readonly migrate: MigrateOptions;
  readonly log: Logger;
  readonly limits: DedicatedLimits;
  /**
   * The route for `slot` when a command may be sent on it now; waitForSlot(slot) when it is locked (hold
   * and retry); an error reply when nothing can be sent (fenced, no topology, slot offline).
   */
  routeFor(slot: number): SlotRoute | WaitSlot | Buffer;
  /** The reply when the dedicated connection pool is exhausted. */
  exhausted(what: string): Buffer;
  /** A commandKeys() message of `spec` as Redis's `-ERR <message>` (Redis's wording per command). */
  argError(spec: CommandSpec, message: string): Buffer;
  /** Every master that serves a slot now (or still, for a locked slot's previous owner): patterns, WAIT. */
  patternServers(): BackendServer[];
}

/** A client's blocked command (blocking.ts), as the session and CLIENT UNBLOCK see it. */
export interface BlockedCommand {
  /** CLIENT UNBLOCK: wakes it (with an error when `error`); false when it cannot be woken now. */
  unblockByClient(error: boolean): boolean;
  /** The client is gone: release its connection. */
  cancel(): void;
}

/** Per-session state of the dedicated features, created on first use. */
export interface SessionDedicated {
  tx: Transaction | null;
  pubsub: PubSubState<DedicatedSession> | null;
  blocked: BlockedCommand | null;
}

export interface DedicatedSession extends RoutedSession {
  readonly id: number;
  db: number;
  /** RESP version the client speaks (HELLO). */
  proto: 2 | 3;
  mode: number;
  dedicated: SessionDedicated | null;
  /** Replies not yet written (dispatched requests still in the reply queue). */
  readonly inFlight: number;
  readonly isClosed: boolean;
  /** An unsolicited frame (Pub/Sub message) after everything queued; not a command (no metrics). */
  push(frame: Buffer): void;
  /** Drops the client connection now. */
  destroy(): void;
}

export function stateOf(s: DedicatedSession): SessionDedicated {
  let d = s.dedicated;
  if (d === null) {
    d = { tx: null, pubsub: null, blocked: null };
    s.dedicated = d;
  }
  return d;
}

/** Redis's full command name for error messages: 'get', 'client|setname'. */
export function fullName(spec: CommandSpec, argv: Buffer[]): string {
  return resolveSubcommand(spec, argv)?.name ?? spec.name;
}

/** CLIENT LIST: subscriptions, queued transaction, flags x (MULTI), P (Pub/Sub), b (blocked). */
export function dedicatedListExtras(d: SessionDedicated, x: ClientListExtras): ClientListExtras {
  let flags = '';
  if (d.tx !== null && d.tx.multi) {
    x.multi = d.tx.count;
    flags += 'x';
  }
  if (d.pubsub !== null && d.pubsub.total > 0) {
    x.sub = d.pubsub.channels.size;
    x.psub = d.pubsub.patterns.size;
    x.ssub = d.pubsub.shards.size;
    flags += 'P';
  }
  if (d.blocked !== null) flags += 'b';
  if (flags !== '') x.flags = flags;
  return x;
}
