/**
 * The one builder of `MIGRATE host port "" db timeout [AUTH pw | AUTH2 user pw] KEYS k1..kn`, used by the proxy's
 * migrate-on-access and the dashboard's mover. The keys are appended one by one: a spread (`push(...keys)`) of a
 * command with ~125,000 keys exceeds V8's argument limit and throws.
 */

export interface MigrateTarget {
  host: string;
  port: number;
  /** AUTH toward the target ('' or absent: none); with `user`, AUTH2 (an ACL user). */
  password?: string;
  user?: string;
}

export function migrateCommand(target: MigrateTarget, db: number, timeoutMs: number, keys: readonly Buffer[]): Array<Buffer | string> {
  const args: Array<Buffer | string> = ['MIGRATE', target.host, String(target.port), '', String(db), String(timeoutMs)];
  if (target.password !== undefined && target.password !== '') {
    if (target.user) args.push('AUTH2', target.user, target.password);
    else args.push('AUTH', target.password);
  }
  args.push('KEYS');
  for (const k of keys) args.push(k);
  return args;
}
