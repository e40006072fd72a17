/**
 * ACL subcommands about the proxy's own users (proxy/acl/): WHOAMI, LIST (without password digests), USERS,
 * CAT. Users are configuration (acl.users / acl.file), so SETUSER, DELUSER, GETUSER, LOAD, SAVE, LOG, ... are
 * refused by the command table; this handler returns undefined for them.
 */
import { encodeBulk, encodeBulkArray, encodeError } from '../../shared/resp/encoder.js';
import { allCommands } from '../commands/lookup.js';
import { aclCategories } from '../acl/user.js';
import type { LocalContext } from './context.js';

const lowerSub = (argv: Buffer[]): string => argv[1]!.toString('latin1').toLowerCase();

export function acl(ctx: LocalContext, argv: Buffer[]): Buffer | undefined {
  const users = ctx.facts.access.users;
  switch (lowerSub(argv)) {
    case 'whoami':
      return encodeBulk(ctx.client.user);
    case 'users':
      return encodeBulkArray(users.all().map((u) => u.name));
    case 'list':
      return encodeBulkArray(users.all().map((u) => u.describe()));
    case 'cat':
      return cat(argv[2]);
    default:
      return undefined;
  }
}

function cat(category: Buffer | undefined): Buffer {
  if (category === undefined) return encodeBulkArray([...aclCategories()]);
  const name = category.toString('utf8').toLowerCase();
  if (!aclCategories().has(name)) return encodeError(`ERR Unknown category '${category.toString('utf8').replace(/[\r\n]/g, ' ')}'`);
  const out: string[] = [];
  for (const c of allCommands()) {
    if (c.raw.acl_categories.includes(`@${name}`)) out.push(c.name);
    for (const s of c.subcommands) if (s.raw.acl_categories.includes(`@${name}`)) out.push(s.name);
  }
  return encodeBulkArray(out);
}
