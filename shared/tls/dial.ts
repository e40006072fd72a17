/**
 * Opening a connection in plain TCP or TLS with one call, so every dialler (backend connections, dedicated
 * connections, the control plane's Redis links) handles both the same way. `ready` is the event after which
 * the stream carries application data: 'connect' for TCP, 'secureConnect' once the TLS handshake verified the
 * server.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Dialled {
  socket: net.Socket;
  ready: 'connect' | 'secureConnect';
  /** True when reads go to the `onread` given (plain TCP); false: they come as 'data' events (TLS). */
  onread: boolean;
}

/** `onread` (plain TCP only): reads go into the caller's buffers and callback instead of 'data' events. */
export function dial(host: string, port: number, secure: tls.ConnectionOptions | null, onread?: net.OnReadOpts): Dialled {
  if (secure === null) return { socket: net.connect(onread ? { host, port, onread } : { host, port }), ready: 'connect', onread: onread !== undefined };
  // SNI only for names (RFC 6066 forbids IP literals); the certificate is checked against host either way.
  const servername = secure.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return { socket: tls.connect({ ...secure, host, port, ...(servername !== undefined ? { servername } : {}) }), ready: 'secureConnect', onread: false };
}
