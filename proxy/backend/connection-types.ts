/**
 * What a backend connection needs from and gives to the rest of the proxy: the request interface, the owner (the
 * server's pool), the options, and the backpressure bound. Apart from connection.ts so that its helpers
 * (handshake.ts, busy-watch.ts) can name these types without importing the connection.
 */
import type tls from 'node:tls';
import type { Logger } from '../../shared/log.js';
import type { VersionHolder } from './server-version.js';
import type { WriteFence } from './write-fence.js';
import type { Slab } from '../util/lent-slabs.js';

/** What waits for a backend reply. Implemented by request objects: no per-request closures. */
export interface BackendRequest {
  /**
   * The complete reply frame (a view; copy it to keep it past the reply queue), or a proxy-made error. `slab`:
   * the read slab the frame was lent from (router/lending.ts), when it is one's; absent or null otherwise.
   */
  onReply(reply: Buffer, slab?: Slab | null): void;
  /**
   * Optional: whether it takes its reply in parts now (a big reply, streamed: BackendOptions.streamReplyBytes).
   * Asked while it is the oldest request waiting; once it said yes, its reply comes through onReplyPart, or, if
   * the connection breaks before the last part, onReply with the error.
   */
  takesParts?(): boolean;
  /** A part of its reply (a lent view, as onReply's), in order; `last`: the reply is complete. */
  onReplyPart?(part: Buffer, last: boolean): void;
}

/**
 * Backpressure toward a backend: once this many bytes sit in a connection's socket buffer (written, not yet
 * taken by the kernel: the backend or the network is slower than the clients) or wait for its handshake,
 * every session that sends to it holds its next requests and stops reading (backendHold) until the socket
 * drains, so the proxy's memory stays bounded however fast clients send. Big enough that normal pipelined
 * load never reaches it.
 */
export const MAX_BACKEND_BUFFERED_BYTES = 4 * 1024 * 1024;

/** A sender that can stop dispatching and reading until released (a client session). */
export interface Holdable {
  backendHold(): void;
  backendRelease(): void;
}

export interface BackendOptions {
  dialTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  replyTimeoutMs: number;
  keepAliveMs: number;
  user: string;
  password: string;
  /** TLS toward the servers (backend.tls, files already read); null = plain TCP. */
  tls?: tls.ConnectionOptions | null;
  /** No client byte is written past the serve deadline; connection names carry the proxy id (write-fence.ts). */
  fence?: WriteFence;
  /** Replies of at least this many bytes go to their client in parts as they arrive (backend.streamReplies); 0 = never. */
  streamReplyBytes?: number;
}

export interface ConnectionOwner extends VersionHolder {
  readonly addr: string;
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
  /** Called when the connection becomes usable (true) or a dial/handshake fails (false). */
  onConnectionHealth(up: boolean): void;
  /** A request was answered BUSY at once (the server runs a script on this connection). */
  countBusy?(): void;
}
