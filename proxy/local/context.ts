/**
 * What a proxy-answered command may read and change: the client's session state and proxy-wide facts.
 * Handlers return the full reply bytes, or undefined to mean "not mine" (the command's table route applies).
 */
import type { ProxyConfig } from '../config.js';

/** Proxy-wide facts for INFO / HELLO. */
export interface ProxyFacts {
  readonly config: ProxyConfig;
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
}

export interface LocalContext {
  readonly id: number;
  db: number;
  authenticated: boolean;
  user: string;
  name: Buffer | null;
  libName: Buffer | null;
  libVer: Buffer | null;
  readonly facts: ProxyFacts;
  /** Close the connection once this reply (and everything before it) is written. */
  quit(): void;
  /** Authentication succeeded as `user`. */
  authenticate(user: string): void;
  /** RESP version the client speaks (HELLO 2 / HELLO 3). */
  proto: 2 | 3;
  /** RESET: leave MULTI and Pub/Sub, drop WATCHes, db 0, RESP2, no name, authenticated only if no password. */
  reset(): void;
}

export type LocalHandler = (ctx: LocalContext, argv: Buffer[]) => Buffer | undefined;
