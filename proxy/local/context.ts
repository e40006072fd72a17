/**
 * What a proxy-answered command may read and change: the client's session state and proxy-wide facts.
 * Handlers return the full reply bytes, or undefined to mean "not mine" (the command's table route applies).
 */
import type { SlowLog } from './slowlog.js';
import type { ClientAccess } from '../acl/access.js';
import type { AclUser } from '../acl/user.js';
import type { ProxyConfig } from '../config.js';
import type { ClientInfo } from '../session/client-info.js';
import type { ReplyMode } from '../session/reply-queue.js';

/** Proxy-wide facts for INFO / HELLO. */
export interface ProxyFacts {
  readonly config: ProxyConfig;
  /** Users, the unauthenticated-connection guard, protected mode (proxy/acl/). */
  readonly access: ClientAccess;
  readonly startedAt: number;
  readonly version: string;
  /** The port clients connect to (listen port once bound). */
  port(): number;
  connectedClients(): number;
  /** Sessions holding requests for a locked slot (shown as blocked_clients). */
  blockedClients(): number;
  totalConnections(): number;
  rejectedConnections(): number;
  totalCommands(): number;
  /** Per-command stats for INFO commandstats: name, calls, total µs, failed calls. */
  commandStats(): Array<{ name: string; calls: number; usec: number; failed: number }>;
  topologyRevision(): number;
  fenced(): string | null;
  /** Every client of this proxy (CLIENT LIST, CLIENT KILL). */
  clients(): Iterable<LocalContext>;
  /** Why RESP3 cannot be offered (a backend runs Redis < 6: proxy/backend/server-version.ts), else null. */
  resp3Refusal?(): string | null;
  /** The proxy's slow log (SLOWLOG), when enabled. */
  readonly slowlog?: SlowLog;
}

/**
 * What other features add to a client's CLIENT LIST line (protocol, subscriptions, transaction), when the
 * session implements `clientListExtras`. Absent fields keep Redis's idle values (resp=2, sub=0, multi=-1).
 */
export interface ClientListExtras {
  resp?: number;
  sub?: number;
  psub?: number;
  ssub?: number;
  /** Commands queued in MULTI, -1 outside one. */
  multi?: number;
  /** Extra CLIENT LIST flag letters (x = in MULTI, P = Pub/Sub, b = blocked). */
  flags?: string;
}

export interface LocalContext {
  readonly id: number;
  db: number;
  /** Name, library, user, activity, NO-EVICT (proxy/session/client-info.ts). */
  readonly client: ClientInfo;
  /** READONLY / READWRITE: read-only single-slot commands may be served by a replica of the slot's group. */
  readReplica: boolean;
  readonly facts: ProxyFacts;
  /** Close the connection once this reply (and everything before it) is written. */
  quit(): void;
  /** Authentication succeeded as `user`. */
  authenticate(user: AclUser): void;
  /** RESP version the client speaks (HELLO 2 / HELLO 3). */
  readonly proto: 2 | 3;
  /** HELLO switched the protocol (the session adjusts its Pub/Sub rules and backend connections). */
  setProto(proto: 2 | 3): void;
  /** RESET: leave MULTI and Pub/Sub, drop WATCHes, db 0, RESP2, no name, authenticated only if no password. */
  reset(): void;

  // ---- CLIENT (proxy/local/client.ts)
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Bytes of replies waiting to be written to the client. */
  readonly outputBytes: number;
  /** CLIENT REPLY ON / OFF / SKIP. */
  readonly replies: ReplyMode;
  /** Closes the connection now (CLIENT KILL of another client). */
  kill(): void;
  /** CLIENT UNBLOCK of this client: wakes its blocked command (ERROR: with an error); false if not blocked. */
  unblock?(error: boolean): boolean;
  /** Optional state other features show in CLIENT LIST. */
  clientListExtras?(): ClientListExtras;
}

export type LocalHandler = (ctx: LocalContext, argv: Buffer[]) => Buffer | undefined;
