/**
 * Dispatching one client command: the checks Redis makes before running anything (known command, arity,
 * AUTH, ACL), then the first of: the dedicated features' intercept while MULTI is open or a RESP2 client is
 * subscribed; transactions, blocking commands and Pub/Sub (proxy/dedicated/); the proxy-answered commands
 * (proxy/local/); refusals; the router. Hot path: no allocation before the router on a plain command.
 */
import { aclDenial } from '../acl/check.js';
import { checkArity, keysByArgc, resolveSubcommand, type CommandSpec } from '../commands/lookup.js';
import type { Dedicated, DedicatedSession } from '../dedicated/index.js';
import { errorReply, ProxyErrors, ReplyErrors } from '../errors.js';
import type { LocalContext, LocalHandler } from '../local/context.js';
import { UNKNOWN_COMMAND } from '../metrics.js';
import { DISPATCHED, isPass, type DispatchResult } from '../router/dispatch-result.js';
import type { Router } from '../router/router.js';
import type { RequestSpans } from '../../shared/resp/request-spans.js';
import type { ClientInfo } from './client-info.js';
import { now } from '../util/clock.js';
import { looksLikeHttp, refusalReply, unknownCommandError, unknownSubcommandError } from './replies.js';

/** What dispatch needs of the proxy (a part of SessionEnv). */
export interface DispatchEnv {
  readonly router: Router;
  /** By CommandSpec.id. */
  readonly localHandlers: ReadonlyArray<LocalHandler | undefined>;
  /** By CommandSpec.id: 1 when the command may run before AUTH (Redis flag no_auth). */
  readonly noAuth: Uint8Array;
  /** By CommandSpec.id: the refusal reply, built on first use. */
  readonly refusals: Array<Buffer | undefined>;
  /** Transactions, blocking commands, Pub/Sub: everything that needs a dedicated backend connection. */
  readonly dedicated: Dedicated;
}

/** What dispatch needs of the session. */
export type DispatchingSession = LocalContext &
  DedicatedSession & {
    /** Someone speaks HTTP to the RESP port: close without a reply. */
    securityClose(): void;
  };

/** Runs one command (`spec`: lookupCommand(argv[0]), undefined when unknown); returns DISPATCHED or why it must wait (a locked slot, WAIT_IDLE). */
export function dispatchCommand(s: DispatchingSession, env: DispatchEnv, spec: CommandSpec | undefined, argv: Buffer[], raw: Buffer | undefined): DispatchResult {
  const t0 = now();
  if (spec === undefined) {
    if (looksLikeHttp(argv[0]!)) {
      s.securityClose();
      return DISPATCHED;
    }
    if (s.mode !== 0) env.dedicated.flagError(s); // inside MULTI: EXEC will answer EXECABORT
    s.reply(unknownCommandError(argv), UNKNOWN_COMMAND, t0);
    return DISPATCHED;
  }
  const client = s.client;
  client.lastCmdId = spec.id;
  client.lastAt = t0;
  if (!checkArity(spec, argv.length)) {
    if (s.mode !== 0) env.dedicated.flagError(s);
    s.reply(errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: spec.name }), spec.id, t0);
    return DISPATCHED;
  }
  if (!client.authenticated && env.noAuth[spec.id] !== 1) {
    s.reply(ReplyErrors.noAuth, spec.id, t0);
    return DISPATCHED;
  }
  if (client.acl !== null && env.noAuth[spec.id] !== 1) {
    const denied = aclDenial(client.acl, spec, argv);
    if (denied !== null) {
      if (s.mode !== 0) env.dedicated.flagError(s); // like Redis: a refused command flags MULTI
      s.reply(denied, spec.id, t0);
      return DISPATCHED;
    }
  }
  if (s.mode !== 0) {
    const r = env.dedicated.intercept(s, spec, argv, raw, t0);
    if (!isPass(r)) return r;
  }
  if (spec.route === 'transaction' || spec.route === 'blocking' || spec.route === 'pubsub') {
    return env.dedicated.dispatch(s, spec, argv, raw, t0);
  }
  const local = env.localHandlers[spec.id];
  if (local !== undefined) {
    const r = local(s, argv);
    if (r !== undefined) {
      s.reply(r, spec.id, t0);
      return DISPATCHED;
    }
  }
  let routed = spec;
  if (spec.bySubcommand) {
    // CONFIG GET goes to one master, CONFIG SET to all, MEMORY STATS is refused: route by the subcommand.
    const sub = resolveSubcommand(spec, argv);
    if (sub === undefined) {
      s.reply(unknownSubcommandError(spec, argv[1]!), spec.id, t0);
      return DISPATCHED;
    }
    if (!checkArity(sub, argv.length)) {
      s.reply(errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: sub.name }), spec.id, t0);
      return DISPATCHED;
    }
    routed = sub;
  }
  if (routed.route === 'refused' || routed.route === 'local') {
    s.reply(refusalReply(routed, env.refusals), spec.id, t0);
    return DISPATCHED;
  }
  return env.router.route(s, routed, argv, raw, t0);
}

/**
 * The key positions of a request given as offsets (RequestHandler.onRequestSpans) when dispatchCommand would
 * do nothing but route it: `spec` known, arity right, the client authenticated without ACL restrictions, no
 * local handler, routed single (not a script), mget, mset or sum, with keys at fixed positions (at least
 * one). Else null: the request takes the argv path. The caller checks the session's own state (MULTI, held).
 */
export function spansKeys(client: ClientInfo, env: DispatchEnv, spec: CommandSpec | undefined, argc: number): number[] | null {
  if (spec === undefined || !client.authenticated || client.acl !== null || !checkArity(spec, argc)) return null;
  const r = spec.route;
  if ((r !== 'single' && r !== 'mset' && r !== 'mget' && r !== 'sum') || spec.bySubcommand || env.localHandlers[spec.id] !== undefined) return null;
  const keys = keysByArgc(spec, argc);
  return keys === null || typeof keys === 'string' || keys.length === 0 ? null : keys;
}

/** dispatchCommand for a request spansKeys accepted: straight to the router. */
export function dispatchSpans(s: DispatchingSession, env: DispatchEnv, spec: CommandSpec, raw: Buffer, spans: RequestSpans, keys: number[]): DispatchResult {
  const t0 = now();
  const client = s.client;
  client.lastCmdId = spec.id;
  client.lastAt = t0;
  return env.router.routeSpans(s, spec, raw, spans, keys, t0);
}
