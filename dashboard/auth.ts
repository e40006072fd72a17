/**
 * Bearer-token authentication. Tokens come from config or environment, never from a URL: only the
 * `Authorization: Bearer <token>` header is read (a `?token=` query parameter is ignored on purpose).
 * Comparison is constant-time: both sides are hashed to 32-byte SHA-256 digests and compared with
 * crypto.timingSafeEqual, against every configured token (no early exit on a match).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenRole, TokenSpec } from './config.js';

export interface Principal {
  /** Token name (audit "who"), or "anonymous" for open reads. */
  name: string;
  role: TokenRole;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class TokenAuth {
  private readonly entries: Array<{ name: string; role: TokenRole; digest: Buffer }>;

  constructor(tokens: TokenSpec[]) {
    if (tokens.length === 0) throw new Error('at least one dashboard token is required');
    this.entries = tokens.map((t) => ({ name: t.name, role: t.role, digest: digest(t.token) }));
  }

  /** The principal for an Authorization header value, or undefined if missing/wrong. */
  check(header: string | undefined): Principal | undefined {
    if (typeof header !== 'string') return undefined;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) return undefined;
    const d = digest(m[1]!);
    let found: Principal | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(d, e.digest) && found === undefined) found = { name: e.name, role: e.role };
    }
    return found;
  }
}
