/**
 * The socket of a backend connection: dialled (plain TCP or TLS), its reads landing in a read slab the
 * connection owns (read-slab.ts) or, where Node offers no caller-owned read buffers (TLS), as 'data' chunks,
 * and its writes going through a DirectWriter (direct-write.ts). Every event names the socket it came from:
 * the connection ignores those of a socket it has replaced.
 */
import type net from 'node:net';
import { dial } from '../../shared/tls/dial.js';
import type { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { DirectWriter } from '../util/direct-write.js';
import type { Slab } from '../util/lent-slabs.js';
import type { BackendOptions, ConnectionOwner } from './connection-types.js';
import { ReadSlab } from './read-slab.js';

/** What a backend socket reports to its connection. */
export interface BackendSocketEvents {
  /** Bytes read: `slab` is the read slab `chunk` lies in, null for a chunk of its own. */
  received(socket: net.Socket, chunk: Buffer, slab: Slab | null): void;
  /** Connected (TLS: after its handshake): the Redis handshake may start. */
  connected(socket: net.Socket): void;
  /** The socket's 'drain': what went through socket.write was written. */
  drained(socket: net.Socket): void;
  errored(socket: net.Socket, err: Error): void;
  closed(socket: net.Socket): void;
}

/** Dials `owner`'s server for a connection whose replies `framer` frames. */
export function dialBackend(
  owner: ConnectionOwner,
  opts: BackendOptions,
  framer: ReplyFramer,
  events: BackendSocketEvents,
): { socket: net.Socket; writer: DirectWriter } {
  const slab = new ReadSlab(framer);
  const { socket, ready, onread } = dial(owner.host, owner.port, opts.tls ?? null, {
    buffer: slab.next,
    callback: (n: number, buf: Uint8Array): boolean => {
      events.received(socket, slab.take(n, buf as Buffer), slab.reading);
      return true;
    },
  });
  socket.setNoDelay(true);
  if (opts.keepAliveMs > 0) socket.setKeepAlive(true, opts.keepAliveMs);
  socket.on(ready, () => events.connected(socket));
  if (!onread) socket.on('data', (chunk: Buffer) => events.received(socket, chunk, null));
  socket.on('error', (err: Error) => events.errored(socket, err));
  socket.on('close', () => events.closed(socket));
  socket.on('drain', () => events.drained(socket));
  return { socket, writer: new DirectWriter(socket) };
}
