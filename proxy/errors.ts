/**
 * Errors the proxy's data path shows to clients (reply errors, exact Redis vocabulary) and raises internally.
 * Hot-path replies are preformatted once (`ReplyErrors`); parameterised ones go through `errorReply`.
 */
import { defineErrors, formatMessage, type ErrorSpec } from '../shared/errors.js';
import { encodeError } from '../shared/resp/encoder.js';

export const ProxyErrors = defineErrors({
  REDSLOT_ERR_CROSSSLOT: {
    replyPrefix: 'CROSSSLOT',
    message: "Keys in request don't hash to the same slot",
    description: 'A command whose keys must share one slot (or MSETNX) names keys of different slots; use {hash tags}.',
  },
  REDSLOT_ERR_SLOT_NOT_SERVED: {
    replyPrefix: 'CLUSTERDOWN',
    message: 'Hash slot not served',
    description: "The key's slot is offline (assigned to no group, or its group has no master).",
  },
  REDSLOT_ERR_NO_TOPOLOGY: {
    replyPrefix: 'CLUSTERDOWN',
    message: 'proxy has not loaded a topology yet',
    description: 'The proxy started but has not received its slot table yet (coordinator unreachable at start?).',
  },
  REDSLOT_ERR_FENCED: {
    replyPrefix: 'CLUSTERDOWN',
    message: '{reason}',
    description: 'The proxy fenced itself (e.g. it could not renew its coordinator lease) and serves no commands.',
  },
  REDSLOT_ERR_BACKEND_UNAVAILABLE: {
    replyPrefix: 'ERR',
    message: 'backend {addr} unavailable',
    description: 'The Redis server owning the slot cannot be reached (refused, timed out, AUTH failed); retried with backoff.',
  },
  REDSLOT_ERR_BACKEND_CONNECTION_LOST: {
    replyPrefix: 'ERR',
    message: 'backend {addr} connection lost',
    description: 'The connection to a Redis server broke (or stopped answering) while this command was in flight; it may or may not have run.',
  },
  REDSLOT_ERR_MAX_CLIENTS: {
    replyPrefix: 'ERR',
    message: 'max number of clients reached',
    description: 'limits.maxClients connections are open; the new one is closed.',
  },
  REDSLOT_ERR_PROTOCOL: {
    replyPrefix: 'ERR',
    message: 'Protocol error: {detail}',
    description: 'Malformed RESP or a request over a size limit; the connection is closed after this reply.',
  },
  REDSLOT_ERR_UNKNOWN_COMMAND: {
    replyPrefix: 'ERR',
    message: "unknown command '{name}', with args beginning with: {args}",
    description: 'The command name is not a Redis 7 command.',
  },
  REDSLOT_ERR_WRONG_ARITY: {
    replyPrefix: 'ERR',
    message: "wrong number of arguments for '{name}' command",
    description: 'Too many or too few arguments for the command.',
  },
  REDSLOT_ERR_BAD_ARGUMENTS: {
    replyPrefix: 'ERR',
    message: '{message}',
    description: 'The key arguments cannot be found (bad numkeys, unknown subcommand): same wording as Redis.',
  },
  REDSLOT_ERR_COMMAND_REFUSED: {
    replyPrefix: 'ERR',
    message: '{refusal}',
    description: 'The command is not supported through the proxy; the message names it and says why.',
  },
  REDSLOT_ERR_NOAUTH: {
    replyPrefix: 'NOAUTH',
    message: 'Authentication required.',
    description: 'auth.password is set and the client has not authenticated yet.',
  },
  REDSLOT_ERR_WRONGPASS: {
    replyPrefix: 'WRONGPASS',
    message: 'invalid username-password pair or user is disabled.',
    description: 'AUTH (or HELLO AUTH) with a wrong user or password.',
  },
  REDSLOT_ERR_AUTH_NOT_CONFIGURED: {
    replyPrefix: 'ERR',
    message: 'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    description: 'AUTH with a password while the proxy has no auth.password (same as Redis).',
  },
  REDSLOT_ERR_NOPROTO: {
    replyPrefix: 'NOPROTO',
    message: 'unsupported protocol version',
    description: 'HELLO asked for a protocol other than 2 or 3 (same wording as Redis).',
  },
  REDSLOT_ERR_HELLO_OPTION: {
    replyPrefix: 'ERR',
    message: "Syntax error in HELLO option '{option}'",
    description: 'HELLO with an option other than AUTH user pass / SETNAME name (same wording as Redis).',
  },
  REDSLOT_ERR_DB_RANGE: {
    replyPrefix: 'ERR',
    message: 'DB index is out of range',
    description: 'SELECT outside 0..databases-1.',
  },
  REDSLOT_ERR_NOT_INTEGER: {
    replyPrefix: 'ERR',
    message: 'value is not an integer or out of range',
    description: 'An argument that must be an integer is not.',
  },
  REDSLOT_ERR_SYNTAX: {
    replyPrefix: 'ERR',
    message: 'syntax error',
    description: 'A proxy-answered command got arguments it does not understand.',
  },
  REDSLOT_ERR_MIGRATE_ON_ACCESS: {
    replyPrefix: 'ERR',
    message: 'slot {slot} is migrating and moving the keys of this command from {source} to {target} failed: {reason}',
    description: 'Migrate-on-access: MIGRATE of the command\'s keys to the new owner failed, so the command was not run.',
  },
  REDSLOT_ERR_HOLD_TIMEOUT: {
    replyPrefix: 'TRYAGAIN',
    message: 'Multiple keys request during rehashing of slot',
    description: "A request waited guard.holdTimeout for a slot locked by a migration step (or a promotion) and was not run; Redis Cluster's wording, so cluster-aware clients retry it.",
  },
  REDSLOT_ERR_CONFIG_DENIED: {
    replyPrefix: 'ERR',
    message: "CONFIG SET failed (possibly related to argument '{param}') - redslot does not let clients change the backends' {what}",
    description: "CONFIG SET of a backend secret, file path or network setting (requirepass, masterauth, dir, port, tls-*, ...): refused before anything is sent; CONFIG GET leaves such parameters out.",
  },
  REDSLOT_ERR_MULTI_TOO_BIG: {
    replyPrefix: 'ERR',
    message: 'transaction queue over guard.maxMultiBytes ({limit} bytes); the transaction is discarded',
    description: 'The commands queued after MULTI exceed guard.maxMultiBytes; the transaction is flagged and EXEC answers EXECABORT.',
  },
  REDSLOT_ERR_MERGED_REPLY_TOO_BIG: {
    replyPrefix: 'ERR',
    message: "the replies of every group to '{command}' exceed guard.maxMergedReply ({limit} bytes); use SCAN",
    description: 'A cluster-wide command (KEYS, ...) whose merged reply would exceed guard.maxMergedReply; checked as the replies arrive.',
  },
  REDSLOT_ERR_DANGEROUS_REFUSED: {
    replyPrefix: 'ERR',
    message: "command '{name}' is refused by this proxy (commands.refuseDangerous is true): it {why}",
    description: 'The deployment set commands.refuseDangerous: FLUSHDB, FLUSHALL, KEYS and CONFIG SET/RESETSTAT/REWRITE are refused.',
  },
  REDSLOT_ERR_MIGRATE_BIG_KEY: {
    replyPrefix: 'TRYAGAIN',
    message: 'key {key} of migrating slot {slot} is {bytes} bytes, over migrate.bigKeyBytes ({limit}): not moved on the client path; the background mover moves it, retry shortly',
    description: 'Migrate-on-access would MIGRATE a big key, blocking the source for the whole transfer; the command is refused until the mover has moved the key alone.',
  },
  REDSLOT_ERR_FLUSH_DURING_MIGRATION: {
    replyPrefix: 'ERR',
    message: "'{name}' refused while slots are migrating ({slots} slots moving or held): keys moving between groups could survive it; retry once the migration finished, or stop it first",
    description: 'FLUSHALL/FLUSHDB while a slot migrates or is held: flushing group by group could miss keys in transit, so the proxy refuses instead of half-flushing.',
  },
  REDSLOT_ERR_INVALID_CURSOR: {
    replyPrefix: 'ERR',
    message: 'invalid cursor',
    description: 'SCAN with a cursor that is not an unsigned integer (same wording as Redis).',
  },
  REDSLOT_ERR_UNKNOWN_SUBCOMMAND: {
    replyPrefix: 'ERR',
    message: "unknown subcommand '{sub}'. Try {name} HELP.",
    description: 'A container command (CONFIG, CLIENT, SCRIPT, ...) with a subcommand Redis 7 does not have (same wording as Redis).',
  },
  REDSLOT_ERR_NO_SUCH_CLIENT: {
    replyPrefix: 'ERR',
    message: 'No such client',
    description: 'CLIENT KILL addr:port (old form) named no client of this proxy (same wording as Redis).',
  },
  REDSLOT_ERR_BAD_BACKEND_REPLY: {
    replyPrefix: 'ERR',
    message: 'redslot cannot merge the replies of every group to {command}: {detail}',
    description: 'A cluster-wide command got a reply of an unexpected shape from a backend (a bug or a non-Redis backend).',
  },
  REDSLOT_ERR_LISTEN: {
    message: 'cannot listen on {addr}: {reason}',
    description: 'The proxy could not bind its RESP or admin address.',
  },
  REDSLOT_ERR_DEDICATED_EXHAUSTED: {
    replyPrefix: 'ERR',
    message: 'no dedicated backend connection left for {what} (backend.maxDedicated / backend.maxDedicatedPerServer reached); try again later',
    description: 'WATCH/EXEC, a blocking command or SUBSCRIBE needs a backend connection of its own and the proxy has opened as many as its limits allow.',
  },
  REDSLOT_ERR_MULTI_NESTED: {
    replyPrefix: 'ERR',
    message: 'MULTI calls can not be nested',
    description: 'MULTI inside MULTI (same wording as Redis; the transaction stays open).',
  },
  REDSLOT_ERR_EXEC_WITHOUT_MULTI: {
    replyPrefix: 'ERR',
    message: 'EXEC without MULTI',
    description: 'EXEC outside a transaction (same wording as Redis).',
  },
  REDSLOT_ERR_DISCARD_WITHOUT_MULTI: {
    replyPrefix: 'ERR',
    message: 'DISCARD without MULTI',
    description: 'DISCARD outside a transaction (same wording as Redis).',
  },
  REDSLOT_ERR_WATCH_INSIDE_MULTI: {
    replyPrefix: 'ERR',
    message: 'WATCH inside MULTI is not allowed',
    description: 'WATCH after MULTI (same wording as Redis; the transaction stays open).',
  },
  REDSLOT_ERR_EXECABORT: {
    replyPrefix: 'EXECABORT',
    message: 'Transaction discarded because of previous errors.',
    description: 'EXEC after a queued command was refused (unknown command, wrong arity, CROSSSLOT, not allowed in a transaction): nothing ran (same wording as Redis).',
  },
  REDSLOT_ERR_EXECABORT_BECAUSE: {
    replyPrefix: 'EXECABORT',
    message: 'Transaction discarded because of: {reason}',
    description: 'EXEC itself was refused (e.g. in RESP2 subscribed mode): the transaction is discarded (same wording as Redis).',
  },
  REDSLOT_ERR_NOT_IN_TRANSACTION: {
    replyPrefix: 'ERR',
    message: "command '{name}' cannot be queued in a transaction by redslot: {reason}",
    description: 'A command redslot cannot run inside MULTI/EXEC on one group (SELECT, SUBSCRIBE, cluster-wide commands, ...); the transaction is flagged and EXEC answers EXECABORT.',
  },
  REDSLOT_ERR_NOT_ALLOWED_IN_TRANSACTION: {
    replyPrefix: 'ERR',
    message: 'Command not allowed inside a transaction',
    description: 'A command Redis itself refuses inside MULTI (flag no-multi); the transaction is flagged (same wording as Redis).',
  },
  REDSLOT_ERR_BACKEND_TOO_OLD: {
    replyPrefix: 'ERR',
    message: '{what} refused: {reason}',
    description: 'A feature the Redis version of a backend lacks (HELLO 3 while a backend runs Redis < 6, e.g. a codis-server 3.2 after a Codis import).',
  },
  REDSLOT_ERR_PUBSUB_CONTEXT: {
    replyPrefix: 'ERR',
    message: "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
    description: 'A RESP2 client with subscriptions sent another command (same wording as Redis; RESP3 clients may).',
  },
});

/** `-PREFIX message\r\n` for a spec. */
export function errorReply(spec: ErrorSpec, params?: Record<string, string | number>): Buffer {
  return encodeError(`${spec.replyPrefix ?? 'ERR'} ${formatMessage(spec.message, params)}`);
}

/** Fixed replies, formatted once. */
export const ReplyErrors = {
  crossSlot: errorReply(ProxyErrors.REDSLOT_ERR_CROSSSLOT),
  slotNotServed: errorReply(ProxyErrors.REDSLOT_ERR_SLOT_NOT_SERVED),
  noTopology: errorReply(ProxyErrors.REDSLOT_ERR_NO_TOPOLOGY),
  maxClients: errorReply(ProxyErrors.REDSLOT_ERR_MAX_CLIENTS),
  noAuth: errorReply(ProxyErrors.REDSLOT_ERR_NOAUTH),
  wrongPass: errorReply(ProxyErrors.REDSLOT_ERR_WRONGPASS),
  authNotConfigured: errorReply(ProxyErrors.REDSLOT_ERR_AUTH_NOT_CONFIGURED),
  noProto: errorReply(ProxyErrors.REDSLOT_ERR_NOPROTO),
  dbRange: errorReply(ProxyErrors.REDSLOT_ERR_DB_RANGE),
  notInteger: errorReply(ProxyErrors.REDSLOT_ERR_NOT_INTEGER),
  syntax: errorReply(ProxyErrors.REDSLOT_ERR_SYNTAX),
  holdTimeout: errorReply(ProxyErrors.REDSLOT_ERR_HOLD_TIMEOUT),
} as const;
