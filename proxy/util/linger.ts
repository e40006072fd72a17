import type net from 'node:net';

/** How long a closing connection waits for the client's FIN before it is destroyed. */
export const LINGER_MS = 1000;

/**
 * Writes `last` (if any), half-closes, keeps reading (and discarding) until the client closes its side or
 * LINGER_MS passes. Closing with unread input would send a RST that can destroy the reply in flight.
 */
export function lingeringClose(socket: net.Socket, last?: Buffer): void {
  socket.on('error', () => {});
  socket.resume();
  if (last) socket.end(last);
  else socket.end();
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
