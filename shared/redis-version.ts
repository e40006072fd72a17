/**
 * Which Redis a server runs, and what redslot can do with it. Codis clusters run codis-server (a Redis
 * 3.2.11 fork) or old stock Redis; redslot speaks to them for the commands they have, and refuses the rest
 * with a reason instead of sending a command the server would not understand.
 *
 * Version gates (from the Redis release notes):
 * - RESP3 (`HELLO 3`) and ACL users (`AUTH user pass`, `MIGRATE ... AUTH2`): Redis 6.0.
 * - `MIGRATE ... KEYS k1..kn` (several keys per call, "" as the key argument): Redis 3.0.6.
 * - `MEMORY USAGE` (the mover sizes keys before moving them): Redis 4.0.
 * - `REPLICAOF` (adding a replica, promotion): Redis 5.0 (older servers only know SLAVEOF).
 * - `UNLINK`: Redis 4.0 (refused by the server itself on older ones; redslot does not rewrite it).
 */

export interface RedisVersion {
  major: number;
  minor: number;
  patch: number;
  /** As the server reported it (`redis_version`). */
  text: string;
}

/** What redslot may use on a server of this version; `null` fields = allowed, a string = why not. */
export interface RedisCapabilities {
  /** HELLO 3 / RESP3 connections. */
  resp3: string | null;
  /** AUTH with an ACL user name toward the server (and MIGRATE ... AUTH2). */
  aclUser: string | null;
  /** Slot migration (MIGRATE ... KEYS batches, MEMORY USAGE sizing). */
  migration: string | null;
  /** The dashboard turning servers into replicas (server add, promote). */
  replicaOf: string | null;
}

/** Parses "3.2.11", "7.0.15", "6.2.6-rc1"; null when it is not a version. */
export function parseRedisVersion(text: string): RedisVersion | null {
  const m = /^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?/.exec(text.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: text.trim() };
}

/** The `redis_version` field of an INFO reply (any sections), parsed; null when absent. */
export function versionFromInfo(info: string): RedisVersion | null {
  const m = /(?:^|\n)redis_version:([^\r\n]+)/.exec(info);
  return m ? parseRedisVersion(m[1]!) : null;
}

export function atLeast(v: RedisVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

export function capabilitiesOf(v: RedisVersion): RedisCapabilities {
  const six = atLeast(v, 6, 0);
  return {
    resp3: six ? null : `RESP3 (HELLO 3) needs Redis >= 6.0; the server runs ${v.text}`,
    aclUser: six ? null : `ACL users (AUTH user password, MIGRATE ... AUTH2) need Redis >= 6.0; the server runs ${v.text}: use backend.password without backend.user`,
    migration: !atLeast(v, 3, 0, 6)
      ? `migration needs MIGRATE ... KEYS (Redis >= 3.0.6); the server runs ${v.text}`
      : !atLeast(v, 4, 0)
        ? `migration sizes keys with MEMORY USAGE (Redis >= 4.0); the server runs ${v.text}`
        : null,
    replicaOf: atLeast(v, 5, 0) ? null : `REPLICAOF (server add of a replica, promote) needs Redis >= 5.0; the server runs ${v.text}`,
  };
}

/** Every reason this server cannot do what is asked, for messages (empty when it can). */
export function refusalsFor(v: RedisVersion, wants: Partial<Record<keyof RedisCapabilities, boolean>>): string[] {
  const c = capabilitiesOf(v);
  const out: string[] = [];
  for (const k of Object.keys(c) as Array<keyof RedisCapabilities>) {
    const why = c[k];
    if (wants[k] && why !== null) out.push(why);
  }
  return out;
}
