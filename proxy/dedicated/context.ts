/**
 * What the dedicated-connection features (transactions, blocking commands, Pub/Sub) need from a client
 * session. The Session implements DedicatedSession; nothing here
 * runs on the normal (shared-connection) path.
 */
import { resolveSubcommand, type CommandSpec } from '../commands/lookup.js';
import type { ClientListExtras } from '../local/context.js';
import type { RoutedSession } from '../router/router.js';
import type { BlockedRequest } from './blocking.js';
import type { PubSubState } from './pubsub.js';
import type { Transaction } from './transaction.js';

/** session.mode bits: while non-zero, every request goes through Dedicated.intercept() first. */
export const MODE_MULTI = 1;
/** RESP2 with subscriptions: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET are allowed. */
export const MODE_PUBSUB_RESP2 = 2;

/** Per-session state of the dedicated features, created on first use. */
export interface SessionDedicated {
  tx: Transaction | null;
  pubsub: PubSubState | null;
  blocked: BlockedRequest | null;
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
