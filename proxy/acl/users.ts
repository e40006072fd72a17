/**
 * The proxy's users: the legacy single user of `auth.password` / `auth.user`, plus the ACL users of
 * `acl.users` (aclfile lines) and `acl.file` (an aclfile). Like Redis, a `default` user always exists: with no
 * password anywhere it is `on nopass ~* &* +@all` and clients start logged in as it.
 */
import { readFileSync } from 'node:fs';
import { AclRuleError, AclUser, sha256 } from './user.js';

export interface UsersConfig {
  auth: { user: string; password: string };
  acl: { users: readonly string[]; file: string };
}

/** Outcome of a login attempt. */
export type LoginResult = AclUser | 'wrongpass' | 'not-configured';

const FULL = ['on', '~*', '&*', '+@all'];

/** Splits an aclfile line into its user name and rules (`user alice on ...` or `alice on ...`). */
export function parseUserLine(line: string): { name: string; rules: string[] } {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  if (words[0]?.toLowerCase() === 'user') words.shift();
  const name = words.shift();
  if (name === undefined || name === '') throw new AclRuleError(`'${line}': expected 'user <name> <rules...>'`);
  return { name, rules: words };
}

export class AclUsers {
  private readonly byName = new Map<string, AclUser>();
  /** The user `AUTH <password>` (no user name) logs in: auth.user, else 'default'. */
  readonly passwordOnlyUser: string;

  constructor(cfg: UsersConfig, readFile: (f: string) => string = (f) => readFileSync(f, 'utf8')) {
    const { user, password } = cfg.auth;
    this.passwordOnlyUser = user === '' ? 'default' : user;
    const fullWith = (pw: string) => (pw === '' ? ['nopass', ...FULL] : [`#${sha256(pw).toString('hex')}`, ...FULL]);
    if (user === '' || user === 'default') this.add('default', fullWith(password));
    else {
      // auth.user names the one user; the default user is then disabled (as the proxy always behaved).
      this.add('default', password === '' ? fullWith('') : ['nopass', ...FULL, 'off']);
      if (password !== '') this.add(user, fullWith(password));
    }
    const lines = [...cfg.acl.users];
    if (cfg.acl.file !== '') {
      for (const l of readFile(cfg.acl.file).split('\n')) if (l.trim() !== '' && !l.trim().startsWith('#')) lines.push(l);
    }
    for (const line of lines) {
      const { name, rules } = parseUserLine(line);
      // A line replaces any earlier definition of the same user, as ACL LOAD does.
      this.byName.delete(name);
      this.add(name, rules);
    }
  }

  private add(name: string, rules: string[]): void {
    try {
      this.byName.set(name, new AclUser(name).apply(rules));
    } catch (err) {
      if (err instanceof AclRuleError) throw new AclRuleError(`user '${name}': ${err.message}`);
      throw err;
    }
  }

  get(name: string): AclUser | undefined {
    return this.byName.get(name);
  }

  get defaultUser(): AclUser {
    return this.byName.get('default')!;
  }

  /** Clients start logged in as `default` (Redis: the default user is on and nopass). */
  get openByDefault(): boolean {
    const d = this.defaultUser;
    return d.enabled && d.nopass;
  }

  /** Some user other than an open default can log in with a password (protected mode is off then). */
  get passwordSet(): boolean {
    return !this.openByDefault;
  }

  all(): AclUser[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** AUTH [user] password, as Redis 7 answers it. */
  login(user: Buffer | null, pass: Buffer): LoginResult {
    if (user === null && this.passwordOnlyUser === 'default' && this.openByDefault) return 'not-configured';
    const u = this.byName.get(user === null ? this.passwordOnlyUser : user.toString('utf8'));
    // Hash even for unknown users so timing does not tell which names exist.
    const ok = u !== undefined ? u.passwordMatches(pass) : (sha256(pass), false);
    return u !== undefined && ok && u.enabled ? u : 'wrongpass';
  }
}
