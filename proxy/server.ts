/**
 * The RESP listener: accepts clients up to limits.maxClients (beyond: `-ERR max number of clients reached`,
 * then close, like Codis and Redis), owns the set of sessions, and closes gracefully: stop accepting,
 * stop reading, let in-flight commands finish and their replies flush, then close; force after a deadline.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../shared/log.js';
import { RedslotError } from '../shared/errors.js';
import { ProxyErrors, ReplyErrors } from './errors.js';
import { guardClientMemory } from './guard/client-memory.js';
import { Session, type SessionEnv } from './session.js';
import { lingeringClose } from './util/linger.js';
import { watchServerCertificates } from '../shared/tls/reload.js';
import type { TlsServerConfig } from '../shared/tls/config.js';

export class RespServer {
  private readonly server: net.Server;
  /** The TLS listener (tls.*), sharing the accept path and the sessions of the plain one. */
  private readonly tlsServer: tls.Server | null;
  readonly sessions = new Set<Session>();
  private nextId = 1;
  private closedWaiters: Array<() => void> = [];
  totalConnections = 0;
  rejectedConnections = 0;
  private readonly stopMemoryGuard: () => void;

  constructor(
    env: Omit<SessionEnv, 'onSessionClosed'>,
    private readonly log: Logger,
    tlsOptions: tls.TlsOptions | null = null,
  ) {
    const sessionEnv: SessionEnv = {
      ...env,
      onSessionClosed: (s) => {
        this.sessions.delete(s);
        if (this.sessions.size === 0) {
          const w = this.closedWaiters;
          this.closedWaiters = [];
          for (const f of w) f();
        }
      },
    };
    const accept = (socket: net.Socket) => {
      this.totalConnections++;
      env.metrics.cxTotal++;
      if (this.sessions.size >= env.config.limits.maxClients) {
        this.rejectedConnections++;
        env.metrics.cxRejected++;
        lingeringClose(socket, ReplyErrors.maxClients);
        return;
      }
      const denied = env.facts.access.admit(socket.remoteAddress);
      if (denied !== null) {
        lingeringClose(socket, denied);
        return;
      }
      const s = new Session(socket, this.nextId++, sessionEnv);
      this.sessions.add(s);
    };
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, accept);
    this.server.on('error', (err) => this.log.error('proxy.listen_error', { err }));
    const cap = env.config.guard.maxClientsMemoryBytes;
    this.stopMemoryGuard = guardClientMemory(() => this.sessions, cap, (c, bytes, total) => {
      env.metrics.guards.client_memory++;
      this.log.warn('session.client_memory_evicted', { id: c.id, client: c.remoteAddress, bytes, total, cap });
    });
    // Not allowHalfOpen: with it a TLS socket whose peer closed is never released by the server (close()
    // then waits forever); a TLS client's close_notify ends the session either way.
    this.tlsServer = tlsOptions === null ? null : tls.createServer(tlsOptions, accept);
    this.tlsServer?.on('error', (err) => this.log.error('proxy.listen_error', { err, tls: true }));
    this.tlsServer?.on('tlsClientError', (err, socket) => {
      // A failed handshake (unknown CA, no client certificate, plain RESP on the TLS port) never reaches a session.
      env.metrics.accessClosed.tls_handshake++;
      this.log.info('session.tls_handshake_failed', { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`, reason: err.message });
      socket.destroy();
    });
  }

  private stopWatching: (() => void) | null = null;

  /**
   * Certificate rotation: when one of the files of `c` changes, new TLS connections use the new certificate;
   * connections already open keep theirs. Stopped by close().
   */
  watchCertificates(c: TlsServerConfig, intervalMs: number): void {
    if (this.tlsServer === null) return;
    this.stopWatching = watchServerCertificates(this.tlsServer, c, intervalMs, this.log, 'tls');
  }

  listen(host: string, port: number, secure = false): Promise<{ host: string; port: number }> {
    const server = secure ? this.tlsServer : this.server;
    if (server === null) throw new Error('listen(secure) without TLS options');
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new RedslotError(ProxyErrors.REDSLOT_ERR_LISTEN, { addr: `${host}:${port}`, reason: err.message }, { cause: err }));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Sessions holding their pipeline for a locked slot. */
  heldSessions(): number {
    let n = 0;
    for (const s of this.sessions) if (s.isHeld) n++;
    return n;
  }

  /** Requests accepted and not yet answered, over all sessions. */
  pendingRequests(): number {
    let n = 0;
    for (const s of this.sessions) n += s.pendingRequests;
    return n;
  }

  /**
   * Stops accepting, lets every session finish what it already sent (within deadlineMs), then destroys
   * whatever is left. Resolves when every client connection is closed.
   */
  async close(deadlineMs: number): Promise<void> {
    this.stopMemoryGuard();
    // server.close's callback fires once the listener is closed AND every connection is gone.
    this.stopWatching?.();
    const closeOne = (s: net.Server | null) => new Promise<void>((resolve) => (s === null || !s.listening ? resolve() : s.close(() => resolve())));
    const serverClosed = Promise.all([closeOne(this.server), closeOne(this.tlsServer)]);
    const allClosed = new Promise<void>((resolve) => {
      if (this.sessions.size === 0) resolve();
      else this.closedWaiters.push(resolve);
    });
    for (const s of this.sessions) s.drainAndClose();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const r = await Promise.race([allClosed, deadline]);
    clearTimeout(timer);
    if (r === 'deadline') {
      this.log.warn('proxy.shutdown_deadline', { sessions: this.sessions.size, pending: this.pendingRequests() });
      for (const s of [...this.sessions]) s.destroy();
      await allClosed;
    }
    await serverClosed;
  }
}
