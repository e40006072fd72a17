/**
 * What a client connection is, as CLIENT LIST / CLIENT INFO / ACL / the slow log show it: its name and
 * library (CLIENT SETNAME / SETINFO, HELLO SETNAME), who it is logged in as, when it connected and what it
 * ran last, CLIENT NO-EVICT. Plain data the session and the proxy-answered commands read and set; the
 * routing state the hot path reads (db, RESP version, replica reads) stays on the session.
 */
import type { AclUser } from '../acl/user.js';

export class ClientInfo {
  name: Buffer | null = null;
  libName: Buffer | null = null;
  libVer: Buffer | null = null;
  authenticated = false;
  user = 'default';
  /** The logged-in user's ACL restrictions (proxy/acl/check.ts); null = every command, key and channel. */
  acl: AclUser | null = null;
  readonly createdAt = Date.now();
  /** CommandSpec.id of the last command, -1 before the first. */
  lastCmdId = -1;
  /** performance.now() of the last command (or of the connection). */
  lastAt = performance.now();
  /** CLIENT NO-EVICT on: guard.maxClientsMemory never closes this client. */
  noEvict = false;

  /** Logged in as `user` (AUTH, HELLO AUTH, or the open default user). */
  loggedIn(user: AclUser): void {
    this.authenticated = true;
    this.user = user.name;
    this.acl = user.unrestricted ? null : user;
  }

  /** Not logged in (a new connection, RESET). */
  loggedOut(): void {
    this.authenticated = false;
    this.acl = null;
    this.user = 'default';
  }
}
