/**
 * AUTH and HELLO. The proxy checks client credentials itself against its users (proxy/acl/users.ts:
 * auth.user / auth.password and acl.users); backends are reached with the proxy's own backend credentials.
 * Like Redis 7: `AUTH pass` logs in the 'default' user (auth.user when set), `AUTH user pass` a named one;
 * while the default user has no password `AUTH pass` is an error and `AUTH default <anything>` succeeds.
 * Every failure is counted and logged, and too many close the connection (proxy/acl/auth-guard.ts).
 */
import { encodeArrayHeader, encodeBulk, encodeInteger, Replies } from '../../shared/resp/encoder.js';
import type { AclUser } from '../acl/user.js';
import { REDIS_VERSION } from '../commands/table.js';
import { ReplyErrors, errorReply, ProxyErrors } from '../errors.js';
import { parseSmallInt } from './basic.js';
import type { LocalContext } from './context.js';

/** Checks credentials; returns the user, or the error reply (after counting a failure). */
function check(ctx: LocalContext, user: Buffer | null, pass: Buffer): AclUser | Buffer {
  const users = ctx.facts.access.users;
  const res = users.login(user, pass);
  if (res === 'not-configured') return ReplyErrors.authNotConfigured;
  if (res !== 'wrongpass') return res;
  const name = user === null ? users.passwordOnlyUser : user.toString('utf8');
  if (ctx.facts.access.guard.failed(ctx, name)) ctx.quit(); // closes once this reply is written
  return ReplyErrors.wrongPass;
}

export function auth(ctx: LocalContext, argv: Buffer[]): Buffer {
  if (argv.length > 3) return ReplyErrors.syntax;
  const res = argv.length === 2 ? check(ctx, null, argv[1]!) : check(ctx, argv[1]!, argv[2]!);
  if (Buffer.isBuffer(res)) return res;
  ctx.authenticate(res);
  return Replies.ok;
}

/**
 * HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 or RESP3. The session's protocol picks the backend
 * connections its commands use (they speak the same), so replies are still forwarded byte for byte.
 */
export function hello(ctx: LocalContext, argv: Buffer[]): Buffer {
  let i = 1;
  let proto: 2 | 3 = ctx.proto;
  if (argv.length >= 2) {
    const ver = parseSmallInt(argv[1]!);
    if (ver === null) return Buffer.from('-ERR Protocol version is not an integer or out of range\r\n');
    if (ver !== 2 && ver !== 3) return ReplyErrors.noProto;
    proto = ver;
    i = 2;
  }
  let setName: Buffer | null = null;
  for (; i < argv.length; i++) {
    const opt = argv[i]!.toString('latin1').toLowerCase();
    const more = argv.length - i - 1;
    if (opt === 'auth' && more >= 2) {
      const res = check(ctx, argv[i + 1]!, argv[i + 2]!);
      if (Buffer.isBuffer(res)) return res;
      ctx.authenticate(res);
      i += 2;
    } else if (opt === 'setname' && more >= 1) {
      setName = argv[i + 1]!;
      i += 1;
    } else {
      return errorReply(ProxyErrors.REDSLOT_ERR_HELLO_OPTION, { option: argv[i]!.toString('latin1').replace(/[\r\n]/g, ' ') });
    }
  }
  if (!ctx.client.authenticated) return Buffer.from('-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n');
  const old = proto === 3 ? (ctx.facts.resp3Refusal?.() ?? null) : null;
  if (old !== null) return errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_TOO_OLD, { what: 'HELLO 3', reason: old });
  if (setName !== null) {
    if (!validClientName(setName)) return Buffer.from('-ERR Client names cannot contain spaces, newlines or special characters.\r\n');
    ctx.client.name = setName.length === 0 ? null : Buffer.from(setName); // a copy: a view would keep a read slab alive
  }
  ctx.setProto(proto);
  return Buffer.concat([
    proto === 3 ? MAP7 : encodeArrayHeader(14),
    encodeBulk('server'), encodeBulk('redis'),
    encodeBulk('version'), encodeBulk(REDIS_VERSION),
    encodeBulk('proto'), encodeInteger(proto),
    encodeBulk('id'), encodeInteger(ctx.id),
    encodeBulk('mode'), encodeBulk('standalone'),
    encodeBulk('role'), encodeBulk('master'),
    encodeBulk('modules'), Replies.emptyArray,
  ]);
}

const MAP7 = Buffer.from('%7\r\n');

/** Redis's rule for client names: printable ASCII without spaces. */
export function validClientName(name: Buffer): boolean {
  for (const c of name) if (c < 0x21 || c > 0x7e) return false;
  return true;
}
