/**
 * The commands a new backend connection sends before anything of a client: log in (HELLO 3 [AUTH] for RESP3
 * connections, else AUTH when a password is set), SELECT its database, name itself for CLIENT LIST, and (dedicated
 * connections) learn its CLIENT ID. One list for the shared pipelined connections and the dedicated ones.
 */
import { encodeCommand } from '../../shared/resp/encoder.js';
import { errorText, isError } from '../../shared/resp/reply-reader.js';
import type { BackendRequest } from './connection-types.js';

/** What a handshake step's reply reports to (the backend connection). */
export interface HandshakeTarget {
  handshakeDone(): void;
  handshakeFailed(reason: string): void;
  explain(what: string, error: string): string;
}

export interface HandshakeStep {
  command: Buffer;
  /** For logs: `AUTH`, `SELECT 3`, ... (never the password). */
  what: string;
  /** An error reply makes the connection useless (wrong password, bad db); else it is ignored (CLIENT SETNAME under ACL). */
  required: boolean;
  /** The reply is the connection's CLIENT ID. */
  clientId?: boolean;
}

export interface HandshakeOptions {
  proto: 2 | 3;
  user: string;
  password: string;
  db: number;
  /** CLIENT SETNAME. */
  name: string;
  /** Ask CLIENT ID (dedicated connections: CLIENT UNBLOCK needs it). */
  clientId?: boolean;
}

export function handshakeSteps(o: HandshakeOptions): HandshakeStep[] {
  const steps: HandshakeStep[] = [];
  if (o.proto === 3) {
    // HELLO 3 [AUTH user pass]: switches the protocol and logs in with one round trip; replies stay RESP3.
    steps.push({ command: encodeCommand(o.password !== '' ? ['HELLO', '3', 'AUTH', o.user || 'default', o.password] : ['HELLO', '3']), what: 'HELLO 3', required: true });
  } else if (o.password !== '') {
    steps.push({ command: encodeCommand(o.user !== '' ? ['AUTH', o.user, o.password] : ['AUTH', o.password]), what: 'AUTH', required: true });
  }
  if (o.db !== 0) steps.push({ command: encodeCommand(['SELECT', String(o.db)]), what: `SELECT ${o.db}`, required: true });
  // Lets operators tell proxy connections apart in CLIENT LIST; failure (e.g. ACL) is harmless.
  steps.push({ command: encodeCommand(['CLIENT', 'SETNAME', o.name]), what: 'CLIENT SETNAME', required: false });
  if (o.clientId) steps.push({ command: encodeCommand(['CLIENT', 'ID']), what: 'CLIENT ID', required: true, clientId: true });
  return steps;
}

/** A handshake command's reply handler. */
export class HandshakeReply implements BackendRequest {
  constructor(
    private readonly conn: HandshakeTarget,
    private readonly step: HandshakeStep,
    private readonly last: boolean,
  ) {}

  onReply(reply: Buffer): void {
    if (isError(reply) && this.step.required) this.conn.handshakeFailed(this.conn.explain(this.step.what, errorText(reply)));
    else if (this.last) this.conn.handshakeDone();
  }
}
