/**
 * Errors of client access control: ACL denials (Redis 7.0's exact NOPERM texts), protected mode, and the
 * limits on unauthenticated connections.
 */
import { defineErrors } from '../../shared/errors.js';

export const AclErrors = defineErrors({
  REDSLOT_ERR_NOPERM_COMMAND: {
    replyPrefix: 'NOPERM',
    message: "this user has no permissions to run the '{name}' command",
    description: "The client's ACL user (acl.users) is not allowed this command or subcommand (same text as Redis 7.0; EXEC answers EXECABORT with it).",
  },
  REDSLOT_ERR_NOPERM_KEY: {
    replyPrefix: 'NOPERM',
    message: 'this user has no permissions to access one of the keys used as arguments',
    description: "A key of the command matches none of the ACL user's key patterns (~pattern, %R~ / %W~ for reads / writes).",
  },
  REDSLOT_ERR_NOPERM_CHANNEL: {
    replyPrefix: 'NOPERM',
    message: 'this user has no permissions to access one of the channels used as arguments',
    description: "A Pub/Sub channel of the command matches none of the ACL user's channel patterns (&pattern; PSUBSCRIBE patterns literally).",
  },
  REDSLOT_ERR_PROTECTED_MODE: {
    replyPrefix: 'DENIED',
    message: 'redslot is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. Set auth.password (or give the default user a password in acl.users), or set protectedMode: false if only trusted clients can reach this port.',
    description: 'A non-loopback client connected while no password is configured and protectedMode is on (the default); the connection is closed.',
  },
  REDSLOT_ERR_MAX_UNAUTHENTICATED: {
    replyPrefix: 'ERR',
    message: 'max number of unauthenticated clients reached',
    description: 'auth.maxUnauthenticated connections are open and have not authenticated yet; the new one is closed.',
  },
});
