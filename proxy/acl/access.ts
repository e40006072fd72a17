/**
 * Client access control of one proxy: its users (ACL), the guard on unauthenticated connections, and
 * protected mode (like Redis's: with no password for the default user, only loopback clients are served
 * unless protectedMode is false). Decided once per connection at accept; per command only for users with
 * restrictions (proxy/acl/check.ts).
 */
import { isLoopback } from '../../shared/loopback.js';
import type { Logger } from '../../shared/log.js';
import { errorReply } from '../errors.js';
import type { ProxyMetrics } from '../metrics.js';
import { AuthGuard, type AuthGuardConfig } from './auth-guard.js';
import { AclErrors } from './errors.js';
import { AclUsers, type UsersConfig } from './users.js';

export interface AccessConfig extends UsersConfig {
  auth: UsersConfig['auth'] & AuthGuardConfig;
  protectedMode: boolean;
}

/** auth.password shorter than this is logged as weak at start. */
export const RECOMMENDED_PASSWORD_LENGTH = 16;

const PROTECTED = errorReply(AclErrors.REDSLOT_ERR_PROTECTED_MODE);
const TOO_MANY_UNAUTHENTICATED = errorReply(AclErrors.REDSLOT_ERR_MAX_UNAUTHENTICATED);

export class ClientAccess {
  readonly users: AclUsers;
  readonly guard: AuthGuard;
  private readonly protectedMode: boolean;

  constructor(cfg: AccessConfig, private readonly metrics: ProxyMetrics, private readonly log: Logger) {
    this.users = new AclUsers(cfg);
    this.guard = new AuthGuard(cfg.auth, metrics, log);
    this.protectedMode = cfg.protectedMode;
    // Not refused (Redis accepts any requirepass, and existing deployments use short ones), but said loudly.
    if (cfg.auth.password !== '' && cfg.auth.password.length < RECOMMENDED_PASSWORD_LENGTH) {
      log.warn('auth.short_password', { length: cfg.auth.password.length, recommended: RECOMMENDED_PASSWORD_LENGTH });
    }
  }

  /** Protected mode is in force: no password for the default user and protectedMode on. */
  get protecting(): boolean {
    return this.protectedMode && this.users.openByDefault;
  }

  /** At accept: null to serve the connection, or the error to write before closing it. */
  admit(remoteAddress: string | undefined): Buffer | null {
    if (this.protecting && !isLoopback(remoteAddress)) {
      this.metrics.accessClosed.protected_mode++;
      this.log.warn('session.protected_mode', { client: remoteAddress ?? '?' });
      return PROTECTED;
    }
    if (!this.users.openByDefault && !this.guard.hasRoom()) {
      this.guard.refused(remoteAddress ?? '?');
      return TOO_MANY_UNAUTHENTICATED;
    }
    return null;
  }
}
