/**
 * One ACL user of the proxy, built from a line in Redis's aclfile syntax (`user alice on #<sha256> ~app1:*
 * +@read`). Passwords are kept only as SHA-256 digests (Redis's `#<hex>` form); a clear-text `>password` is
 * refused in configuration so no secret sits in a config file. Command permissions are resolved once against
 * the Redis 7 command table (categories from its acl_categories), so a check is one Set lookup.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { allCommands, type CommandSpec } from '../commands/lookup.js';

/** A key pattern with its %R / %W permissions (plain `~pattern` is both). */
export interface KeyPattern {
  readonly pattern: Buffer;
  readonly read: boolean;
  readonly write: boolean;
  /** As written (`~app1:*`, `%R~cache:*`), for ACL LIST. */
  readonly text: string;
}

export class AclRuleError extends Error {}

/** Every command and subcommand spec of the table. */
function everySpec(): CommandSpec[] {
  const out: CommandSpec[] = [];
  for (const c of allCommands()) {
    out.push(c);
    for (const s of c.subcommands) out.push(s);
  }
  return out;
}

let categoryNames: Set<string> | null = null;

/** The ACL categories the Redis 7 command table knows (`read`, `write`, `admin`, `dangerous`, ...). */
export function aclCategories(): Set<string> {
  if (categoryNames === null) {
    categoryNames = new Set();
    for (const s of everySpec()) for (const c of s.raw.acl_categories) categoryNames.add(c.slice(1));
  }
  return categoryNames;
}

export function sha256(b: Buffer | string): Buffer {
  return createHash('sha256').update(b).digest();
}

export class AclUser {
  enabled = false;
  nopass = false;
  /** SHA-256 digests of the accepted passwords. */
  readonly passwords: Buffer[] = [];
  allKeys = false;
  readonly keys: KeyPattern[] = [];
  allChannels = false;
  readonly channels: Buffer[] = [];
  /** Permission per command / subcommand spec; absent = denied. */
  readonly allowed = new Set<CommandSpec>();
  /** Command rules as written (`+@read`, `-flushall`), for ACL LIST. */
  private readonly commandRules: string[] = [];

  constructor(readonly name: string) {}

  /** Every command allowed. */
  get allCommands(): boolean {
    return this.allowed.size === everySpecCount();
  }

  /** Nothing to check per command: every command, key and channel is allowed. */
  get unrestricted(): boolean {
    return this.allCommands && this.allKeys && this.allChannels;
  }

  /** Some key pattern is read-only or write-only, so keys are checked with their key-spec flags. */
  get keyFlagsMatter(): boolean {
    return this.keys.some((k) => !k.read || !k.write);
  }

  /** Constant-time comparison against every stored digest. */
  passwordMatches(given: Buffer): boolean {
    if (this.nopass) return true;
    const d = sha256(given);
    let ok = false;
    for (const h of this.passwords) if (timingSafeEqual(d, h)) ok = true;
    return ok;
  }

  /** Applies rules in Redis's ACL SETUSER vocabulary, left to right. */
  apply(rules: readonly string[]): this {
    for (const r of rules) this.applyOne(r);
    return this;
  }

  private applyOne(rule: string): void {
    const lower = rule.toLowerCase();
    if (lower === 'on') this.enabled = true;
    else if (lower === 'off') this.enabled = false;
    else if (lower === 'nopass') {
      this.nopass = true;
      this.passwords.length = 0;
    } else if (lower === 'resetpass') {
      this.nopass = false;
      this.passwords.length = 0;
    } else if (rule.startsWith('#')) {
      if (!/^#[0-9a-fA-F]{64}$/.test(rule)) throw new AclRuleError(`'${rule.slice(0, 8)}...': a password hash is # followed by 64 hex digits (sha256)`);
      this.passwords.push(Buffer.from(rule.slice(1), 'hex'));
      this.nopass = false;
    } else if (rule.startsWith('>') || rule.startsWith('<') || rule.startsWith('!')) {
      throw new AclRuleError(`clear-text passwords ('>...') are not accepted in configuration: store the SHA-256 instead, '#' + $(printf %s "$PASSWORD" | sha256sum)`);
    } else if (lower === 'allkeys' || rule === '~*') {
      this.allKeys = true;
      this.keys.length = 0;
    } else if (lower === 'resetkeys') {
      this.allKeys = false;
      this.keys.length = 0;
    } else if (rule.startsWith('~') || rule.startsWith('%')) {
      this.addKeyPattern(rule);
    } else if (lower === 'allchannels' || rule === '&*') {
      this.allChannels = true;
      this.channels.length = 0;
    } else if (lower === 'resetchannels') {
      this.allChannels = false;
      this.channels.length = 0;
    } else if (rule.startsWith('&')) {
      if (!this.allChannels) this.channels.push(Buffer.from(rule.slice(1)));
    } else if (lower === 'allcommands' || lower === '+@all') this.setCommands('+@all', everySpec(), true);
    else if (lower === 'nocommands' || lower === '-@all') this.setCommands('-@all', everySpec(), false);
    else if (rule.startsWith('+') || rule.startsWith('-')) this.commandRule(rule);
    else if (lower === 'reset') {
      this.apply(['resetpass', 'resetkeys', 'resetchannels', 'off', '-@all']);
    } else if (rule.startsWith('(')) throw new AclRuleError(`selectors ('${rule}') are not supported by redslot`);
    else throw new AclRuleError(`unknown ACL rule '${rule}'`);
  }

  private addKeyPattern(rule: string): void {
    let read = true;
    let write = true;
    let pattern = rule.slice(1);
    if (rule.startsWith('%')) {
      const tilde = rule.indexOf('~');
      const perms = tilde < 0 ? '' : rule.slice(1, tilde).toUpperCase();
      if (tilde < 0 || perms === '' || /[^RW]/.test(perms)) throw new AclRuleError(`'${rule}': key permissions are %R~, %W~ or %RW~ followed by a pattern`);
      read = perms.includes('R');
      write = perms.includes('W');
      pattern = rule.slice(tilde + 1);
    }
    if (this.allKeys) return;
    if (pattern === '*' && read && write) {
      this.allKeys = true;
      this.keys.length = 0;
      return;
    }
    this.keys.push({ pattern: Buffer.from(pattern), read, write, text: rule });
  }

  private commandRule(rule: string): void {
    const on = rule[0] === '+';
    const what = rule.slice(1).toLowerCase();
    if (what.startsWith('@')) {
      const cat = what.slice(1);
      if (!aclCategories().has(cat)) throw new AclRuleError(`unknown command category '${cat}' in '${rule}'`);
      this.setCommands(rule, everySpec().filter((s) => s.raw.acl_categories.includes(`@${cat}`)), on);
      return;
    }
    const bar = what.indexOf('|');
    const top = allCommands().find((c) => c.name === (bar < 0 ? what : what.slice(0, bar)));
    if (top === undefined) throw new AclRuleError(`unknown command '${what}' in '${rule}'`);
    if (bar < 0) {
      this.setCommands(rule, [top, ...top.subcommands], on);
      return;
    }
    const sub = top.subcommands.find((s) => s.name === what);
    if (sub === undefined) throw new AclRuleError(`unknown subcommand '${what}' in '${rule}'`);
    this.setCommands(rule, [sub], on);
  }

  private setCommands(rule: string, specs: readonly CommandSpec[], on: boolean): void {
    for (const s of specs) {
      if (on) this.allowed.add(s);
      else this.allowed.delete(s);
    }
    if (rule === '+@all' || rule === '-@all') this.commandRules.length = 0;
    this.commandRules.push(rule);
  }

  /**
   * The user as ACL LIST shows it, in Redis's order (flags, passwords, keys, channels, commands) but without
   * the password digests: a SHA-256 of a weak password is as good as the password.
   */
  describe(): string {
    const parts = ['user', this.name, this.enabled ? 'on' : 'off'];
    if (this.nopass) parts.push('nopass');
    if (this.allKeys) parts.push('~*');
    else parts.push(...this.keys.map((k) => k.text));
    parts.push(this.allChannels ? '&*' : 'resetchannels');
    if (!this.allChannels) parts.push(...this.channels.map((c) => `&${c.toString()}`));
    const rules = this.commandRules;
    if (rules[0] !== '+@all' && rules[0] !== '-@all') parts.push('-@all');
    parts.push(...rules);
    return parts.join(' ');
  }
}

let specCount = -1;
function everySpecCount(): number {
  if (specCount < 0) specCount = everySpec().length;
  return specCount;
}
