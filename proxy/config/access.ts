/** Proxy config sections about who may connect: client AUTH, ACL users, client TLS (docs/security.md). */
import { Type } from 'typebox';
import { invalidConfig, parseHostPort } from '../../shared/config.js';
import { Duration, Int, Section, Str } from '../../shared/config/knobs.js';
import { withoutKeys } from '../../shared/config/validate.js';
import { secretValue } from '../../shared/secrets.js';
import { parseTlsServer } from '../../shared/tls/config.js';
import { tlsListenerFields } from '../../shared/tls/schema.js';
import { AclUsers } from '../acl/users.js';


export const AuthKnobs = Type.Decode(
  Section(
    {
      user: Str('', "client AUTH user ('' with a password = the `default` user)"),
      password: Str('', "client AUTH password ('' = no auth)", { secret: true }),
      passwordFile: Str('', 'read the client password from this file instead (never on argv)'),
      maxFailures: Int(10, 0, 1_000_000, 'failed AUTH attempts on one connection before it is closed (0 = unlimited)'),
      timeoutMs: Duration('10s', 'a connection that must authenticate and does not is closed after this (0 = never)', { from: 'timeout' }),
      maxUnauthenticated: Int(100, 1, 10_000_000, 'connections waiting unauthenticated at once; more are refused at accept'),
      minPasswordLength: Int(16, 0, 1024, 'shortest `auth.password` accepted when `listen` is beyond loopback (a short password guards a network port poorly); `0` = any length'),
    },
    'client authentication (docs/security.md)',
  ),
  (a) => ({ ...withoutKeys(a, 'passwordFile'), password: secretValue(a, 'password', 'auth.password') }),
);

/** acl.users (a list of aclfile lines, or one string of lines) and acl.file; every rule checked now. */
export const AclKnobs = Type.Decode(
  Section(
    {
      users: Type.Union([Type.Array(Type.String()), Type.String()], {
        default: [],
        description: 'ACL users as aclfile lines (`user ro on #<sha256> ~app:* +@read`)',
        expected: 'a list of ACL lines (`user <name> <rules...>`)',
      }),
      file: Str('', "an aclfile to load ('' = none)"),
    },
    'ACL users (docs/security.md)',
  ),
  (a) => {
    const users = typeof a.users === 'string' ? a.users.split('\n').filter((l) => l.trim() !== '') : a.users;
    const acl = { users, file: a.file };
    try {
      new AclUsers({ auth: { user: '', password: '' }, acl });
    } catch (err) {
      throw invalidConfig(`acl: ${(err as Error).message}`);
    }
    return acl;
  },
);

/** The client-facing TLS block; null = plain only. listen null = the `listen` address itself serves TLS. */
export const ClientTlsKnobs = Type.Decode(
  Section(
    {
      ...tlsListenerFields('clients'),
      listen: Type.Union([Type.Literal(''), Type.String({ format: 'redslot-host-port' })], {
        default: '',
        description: "'' = `listen` serves TLS only; an address = TLS there and plain on `listen`",
        expected: 'host:port',
      }),
    },
    'TLS for clients (docs/security.md)',
  ),
  (t) => {
    const server = parseTlsServer(t, 'tls');
    if (server === null) return null;
    return { ...server, listen: t.listen === '' ? null : parseHostPort(t.listen, 'tls.listen'), reloadIntervalMs: t.reloadIntervalMs };
  },
);
