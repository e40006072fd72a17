/**
 * The per-command ACL check for users that are not unrestricted, run by the session before routing (after
 * unknown-command, arity and NOAUTH, like Redis's processCommand). Order and texts follow Redis 7.0's
 * ACLCheckAllUserCommandPerm: the command (subcommand) first, then every key against the key patterns (with
 * %R / %W from the key specs' flags), then Pub/Sub channels. Malformed key arguments are let through: the
 * command itself then answers its argument error, as Redis does.
 */
import { encodeError } from '../../shared/resp/encoder.js';
import { commandKeys, commandKeysAndFlags, resolveSubcommand, type CommandSpec } from '../commands/lookup.js';
import { globMatch } from '../util/glob.js';
import { AclErrors } from './errors.js';
import { formatMessage } from '../../shared/errors.js';
import type { AclUser } from './user.js';

const deniedCommand = new Map<string, Buffer>();

function commandDenial(spec: CommandSpec): Buffer {
  let r = deniedCommand.get(spec.name);
  if (r === undefined) {
    const text = formatMessage(AclErrors.REDSLOT_ERR_NOPERM_COMMAND.message, { name: spec.name });
    // Redis answers a refused EXEC by aborting the transaction with the reason (execCommandAbort).
    r = spec.name === 'exec' ? encodeError(`EXECABORT Transaction discarded because of: NOPERM ${text}`) : encodeError(`NOPERM ${text}`);
    deniedCommand.set(spec.name, r);
  }
  return r;
}

const KEY_DENIED = encodeError(`NOPERM ${AclErrors.REDSLOT_ERR_NOPERM_KEY.message}`);
const CHANNEL_DENIED = encodeError(`NOPERM ${AclErrors.REDSLOT_ERR_NOPERM_CHANNEL.message}`);

/** Key-spec flags that make an access a read or a write for %R~ / %W~ (Redis's ACLSelectorCheckKey). */
function needs(flags: readonly string[]): { read: boolean; write: boolean } {
  return {
    read: flags.includes('access'),
    write: flags.includes('insert') || flags.includes('delete') || flags.includes('update'),
  };
}

function keyAllowed(user: AclUser, key: Buffer, read: boolean, write: boolean): boolean {
  for (const p of user.keys) {
    if ((read && !p.read) || (write && !p.write)) continue;
    if (globMatch(p.pattern, key, false)) return true;
  }
  return false;
}

function channelAllowed(user: AclUser, channel: Buffer, literal: boolean): boolean {
  for (const p of user.channels) {
    if (literal ? p.equals(channel) : globMatch(p, channel, false)) return true;
  }
  return false;
}

/** Channel arguments: PUBLISH/SPUBLISH name one, (S)SUBSCRIBE several, PSUBSCRIBE patterns (matched literally). */
const CHANNEL_COMMANDS: Readonly<Record<string, { from: number; all: boolean; literal: boolean }>> = {
  publish: { from: 1, all: false, literal: false },
  spublish: { from: 1, all: false, literal: false },
  subscribe: { from: 1, all: true, literal: false },
  ssubscribe: { from: 1, all: true, literal: false },
  psubscribe: { from: 1, all: true, literal: true },
};

/** The NOPERM reply when `user` may not run `argv`, else null. */
export function aclDenial(user: AclUser, spec: CommandSpec, argv: Buffer[]): Buffer | null {
  const resolved = resolveSubcommand(spec, argv);
  if (resolved === undefined) return null; // unknown subcommand: the command's own error follows
  if (!user.allowed.has(resolved)) return commandDenial(resolved);
  if (!user.allKeys && resolved.hasKeys) {
    if (user.keyFlagsMatter) {
      const kf = commandKeysAndFlags(spec, argv);
      if (typeof kf !== 'string') {
        for (let i = 0; i < kf.keys.length; i++) {
          const n = needs(kf.flags[i]!);
          if (!keyAllowed(user, argv[kf.keys[i]!]!, n.read, n.write)) return KEY_DENIED;
        }
      }
    } else {
      const keys = commandKeys(spec, argv);
      if (typeof keys !== 'string') for (const k of keys) if (!keyAllowed(user, argv[k]!, false, false)) return KEY_DENIED;
    }
  }
  if (!user.allChannels) {
    const ch = CHANNEL_COMMANDS[resolved.name];
    if (ch !== undefined) {
      const end = ch.all ? argv.length : ch.from + 1;
      for (let i = ch.from; i < end; i++) if (!channelAllowed(user, argv[i]!, ch.literal)) return CHANNEL_DENIED;
    }
  }
  return null;
}
